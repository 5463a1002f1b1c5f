from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Platform: users, audit trail, jobs"

    def ready(self) -> None:
        # Job handlers register themselves in their app's jobs module; importing here makes the
        # registry complete in web processes and in Celery workers alike.
        from core import jobs  # noqa: F401

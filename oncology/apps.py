from django.apps import AppConfig


class OncologyConfig(AppConfig):
    name = "oncology"
    verbose_name = "Clinical record"

    def ready(self) -> None:
        from oncology import jobs  # noqa: F401  (registers job handlers)

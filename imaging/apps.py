from django.apps import AppConfig


class ImagingConfig(AppConfig):
    name = "imaging"
    verbose_name = "Imaging"

    def ready(self) -> None:
        from imaging import (
            fusion,  # noqa: F401  (registers the fused-display registration job kind)
            jobs_export,  # noqa: F401  (registers the research-export job kind)
            jobs_lesions,  # noqa: F401  (registers the lesion-model training job kind)
            jobs_radiomics,  # noqa: F401  (registers the radiomics job kind)
            jobs_screening,  # noqa: F401  (registers the lung-screening job kind)
            viewer_series,  # noqa: F401  (registers the volume-prepare job kind)
        )

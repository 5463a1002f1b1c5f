from django.apps import AppConfig


class GenomicsConfig(AppConfig):
    name = "genomics"
    verbose_name = "Genomics"

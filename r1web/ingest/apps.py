from django.apps import AppConfig


class IngestConfig(AppConfig):
    name = "r1web.ingest"
    label = "ingest"
    verbose_name = "External runs: API tokens, ingestion and log imports"

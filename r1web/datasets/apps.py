from django.apps import AppConfig


class DatasetsConfig(AppConfig):
    name = "r1web.datasets"
    label = "datasets"

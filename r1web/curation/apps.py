from django.apps import AppConfig


class CurationConfig(AppConfig):
    name = "r1web.curation"
    label = "curation"

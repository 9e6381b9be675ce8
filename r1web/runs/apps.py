from django.apps import AppConfig


class RunsConfig(AppConfig):
    name = "r1web.runs"
    label = "runs"

from django.apps import AppConfig


class TracesConfig(AppConfig):
    name = "r1web.traces"
    label = "traces"

from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "r1web.audit"
    label = "audit"

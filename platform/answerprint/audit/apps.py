from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "answerprint.audit"
    label = "audit"

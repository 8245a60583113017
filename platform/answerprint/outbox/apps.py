from django.apps import AppConfig


class OutboxConfig(AppConfig):
    name = "answerprint.outbox"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import worker  # noqa: F401 - connects the Celery signals that track each task

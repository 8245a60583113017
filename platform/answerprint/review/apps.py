from django.apps import AppConfig


class ReviewConfig(AppConfig):
    name = "answerprint.review"
    label = "review"

    def ready(self):
        from . import checks  # noqa: F401  (registers the checks)

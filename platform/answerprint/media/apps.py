from django.apps import AppConfig


class MediaConfig(AppConfig):
    name = "answerprint.media"
    label = "media"

from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    name = "answerprint.delivery"
    label = "delivery"

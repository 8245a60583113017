from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    name = "answerprint.delivery"
    label = "delivery"

    def ready(self):
        from answerprint.audit.services import listen

        from .webhooks import EVENT_FOR_ACTION, queue_for_audit_event

        for action in EVENT_FOR_ACTION:
            listen(action, queue_for_audit_event)

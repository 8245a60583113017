"""Celery: the presence sweep (CELERY_BEAT_SCHEDULE runs it) and notification e-mails, off the
request. Thin: they take ids and call a service."""
from celery import shared_task

from . import services


@shared_task(name="answerprint.review.tasks.expire_presence")
def expire_presence():
    return services.expire_presence()


@shared_task(name="answerprint.review.tasks.email_notification", autoretry_for=(OSError,), retry_backoff=30,
             max_retries=5)
def email_notification(notification_id):
    from .notifications import send_email

    return send_email(notification_id)

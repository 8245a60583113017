"""E-mail for notifications, off the request: thin, takes an id."""
from celery import shared_task


@shared_task(name="answerprint.review.tasks.email_notification", autoretry_for=(OSError,), retry_backoff=30,
             max_retries=5)
def email_notification(notification_id):
    from .notifications import send_email

    return send_email(notification_id)

"""Celery: the outbox sweep (CELERY_BEAT_SCHEDULE runs it every OUTBOX_SWEEP_SECONDS)."""
from celery import shared_task

from . import services


@shared_task(name="answerprint.outbox.tasks.resend_stale")
def resend_stale():
    return services.resend_stale()

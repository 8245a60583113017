"""Celery: the scheduled checkpoint (CELERY_BEAT_SCHEDULE runs it)."""
from celery import shared_task

from . import services


@shared_task(name="answerprint.audit.tasks.make_checkpoint")
def make_checkpoint():
    checkpoint = services.create_checkpoint()
    return checkpoint.number if checkpoint else None

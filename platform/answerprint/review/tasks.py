"""Celery: the presence sweep (CELERY_BEAT_SCHEDULE runs it)."""
from celery import shared_task

from . import services


@shared_task(name="answerprint.review.tasks.expire_presence")
def expire_presence():
    return services.expire_presence()

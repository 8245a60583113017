"""Celery: the scheduled checkpoint, the sealing sweep and scheduled exports (CELERY_BEAT_SCHEDULE runs them)."""
from celery import shared_task

from . import services


@shared_task(name="answerprint.audit.tasks.make_checkpoint")
def make_checkpoint():
    checkpoint = services.create_checkpoint()
    return checkpoint.number if checkpoint else None


@shared_task(name="answerprint.audit.tasks.seal_events")
def seal_events():
    return services.seal_pending()


@shared_task(name="answerprint.audit.tasks.run_scheduled_exports")
def run_scheduled_exports():
    from .stored_exports import run_due_schedules

    return [export.pk for export in run_due_schedules()]

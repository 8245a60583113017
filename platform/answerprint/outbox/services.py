"""Record work with the change that needs it, publish it after commit, and publish it again when
it went missing (see models.py).

Bounds (settings, seconds): a published task not started within OUTBOX_QUEUED_SECONDS (120) of
being due, or a started one whose heartbeat is older than OUTBOX_HEARTBEAT_SECONDS (60), is
published again by the sweep, which beat runs every OUTBOX_SWEEP_SECONDS (30). Tasks must
therefore be idempotent: the same id may arrive twice (a sweep and a broker redelivery).
"""
import importlib
import json
import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .models import OutboxTask, TaskState

log = logging.getLogger(__name__)

UNFINISHED = (TaskState.PENDING, TaskState.SENT, TaskState.STARTED)


def task_key(task_name: str, args: list) -> str:
    return f"{task_name}:{json.dumps(list(args), separators=(',', ':'))}"[:300]


def record_task(task_name: str, args: list, *, task_id: str | None = None, **options) -> OutboxTask:
    """Put a task on record; the caller's transaction commits it with the change that needs it.
    Work already on record and unfinished is not recorded twice: that row is returned."""
    key = task_key(task_name, args)
    with transaction.atomic():
        existing = OutboxTask.objects.filter(key=key, state__in=UNFINISHED).first()
        if existing is not None:
            return existing
        return OutboxTask.objects.create(task_name=task_name, args=list(args), options=options, key=key,
                                         task_id=task_id or uuid.uuid4().hex)


def unfinished(task_name: str, args: list) -> OutboxTask | None:
    return OutboxTask.objects.filter(key=task_key(task_name, args), state__in=UNFINISHED).first()


def publish(task_name: str, args: list) -> bool:
    """Publish the unfinished task on record for this work. False (logged, noted on the row) when
    the broker cannot be reached: the row stays due and the sweep tries again."""
    task = unfinished(task_name, args)
    if task is None:
        return False
    return _publish(task)


def _celery_task(name: str):
    """The registered task; its module is imported first, since a web process has not
    necessarily imported every tasks module (Celery discovers them only in workers)."""
    from answerprint.celery import app

    importlib.import_module(name.rpartition(".")[0])
    return app.tasks[name]


def _publish(task: OutboxTask) -> bool:
    from answerprint.celery import app

    now = timezone.now()
    try:
        _celery_task(task.task_name).apply_async(args=task.args, task_id=task.task_id, **task.options)
    except Exception as error:  # noqa: BLE001 - the broker is away; the row keeps the work
        if app.conf.task_always_eager:
            raise  # run in this process, so this is the task's own error, not the broker's
        log.warning("Could not publish %s (%s); the outbox sweep will try again", task, error)
        OutboxTask.objects.filter(pk=task.pk, state__in=UNFINISHED).update(
            last_error=f"{type(error).__name__}: {error}"[:1000])
        return False
    # An eager run (tests, CELERY_TASK_ALWAYS_EAGER) has finished by now: leave its row closed.
    OutboxTask.objects.filter(pk=task.pk, state__in=UNFINISHED).update(
        state=TaskState.SENT, due_at=now, sends=task.sends + 1, last_error="")
    return True


def stale_tasks(*, now=None):
    """Published (or recorded) and not started within the bound since it was due, or started and
    no longer heartbeating."""
    now = now or timezone.now()
    return OutboxTask.objects.filter(
        Q(state=TaskState.STARTED, heartbeat_at__lt=now - timedelta(seconds=settings.OUTBOX_HEARTBEAT_SECONDS))
        | Q(state__in=[TaskState.PENDING, TaskState.SENT],
            due_at__lt=now - timedelta(seconds=settings.OUTBOX_QUEUED_SECONDS))
    ).order_by("recorded_at")


def is_stale(task: OutboxTask, *, now=None) -> bool:
    return stale_tasks(now=now).filter(pk=task.pk).exists()


def is_stuck(task_name: str, args: list) -> bool:
    """Whether a person may send this work again now: on record, unfinished, and either never
    published or gone missing."""
    task = unfinished(task_name, args)
    return task is not None and task_is_stuck(task)


def task_is_stuck(task: OutboxTask) -> bool:
    return bool(task.state == TaskState.PENDING and task.last_error) or is_stale(task)


def stuck_explanation(what: str) -> str:
    return (f"Only a failed or stuck {what} can be retried; {what}s not picked up by a worker within "
            f"{settings.OUTBOX_QUEUED_SECONDS} s, or whose worker stops reporting for "
            f"{settings.OUTBOX_HEARTBEAT_SECONDS} s, are sent again automatically and can then be retried here.")


def resend_stale(*, now=None) -> int:
    """The sweep: publish again every task that went missing. Returns how many were published."""
    sent = 0
    for task in stale_tasks(now=now):
        log.warning("Outbox: %s went missing (%s since %s); publishing it again", task, task.state,
                    task.heartbeat_at or task.due_at or task.recorded_at)
        sent += _publish(task)
    return sent


# ------------------------------------------------------------------ the worker's side (worker.py)


def mark_started(task_id: str, *, worker: str = "") -> bool:
    """Claim a recorded task for this delivery. False when it is not on record, finished, or
    running on a worker that still heartbeats: then this delivery is a duplicate (a sweep and a
    broker redelivery can both send it) and must leave the row to the one that runs it."""
    now = timezone.now()
    claimable = Q(state__in=[TaskState.PENDING, TaskState.SENT]) | Q(state=TaskState.STARTED) & (
        Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=now - timedelta(seconds=settings.OUTBOX_HEARTBEAT_SECONDS)))
    return bool(OutboxTask.objects.filter(claimable, task_id=task_id).update(
        state=TaskState.STARTED, started_at=now, heartbeat_at=now, worker=worker[:200]))


def beat(task_id: str) -> None:
    OutboxTask.objects.filter(task_id=task_id, state=TaskState.STARTED).update(heartbeat_at=timezone.now())


def mark_retrying(task_id: str, *, countdown_s: float, reason: str = "") -> None:
    """The task published its own retry, due after `countdown_s`."""
    OutboxTask.objects.filter(task_id=task_id, state__in=UNFINISHED).update(
        state=TaskState.SENT, due_at=timezone.now() + timedelta(seconds=countdown_s), last_error=reason[:1000])


def mark_finished(task_id: str, *, error: str = "") -> None:
    OutboxTask.objects.filter(task_id=task_id, state__in=UNFINISHED).update(
        state=TaskState.DONE, finished_at=timezone.now(), last_error=error[:1000])

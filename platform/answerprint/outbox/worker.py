"""The worker's side of the outbox: Celery signals mark a recorded task started, keep its
heartbeat while it runs (a thread, so a long ffmpeg or model step needs no progress reports),
and close it when it ends. A worker that dies stops the heartbeat, which is what the sweep sees.
Tasks that are not on record pass through untouched."""
import logging
import numbers
import threading

from celery.signals import task_postrun, task_prerun, task_retry
from django.conf import settings
from django.db import connections
from django.utils import timezone

from . import services

log = logging.getLogger(__name__)

_heartbeats: dict[str, "_Heartbeat"] = {}
# Deliveries this process runs that are not the recorded one: duplicates, or tasks not on record.
_not_ours: set[str] = set()


class _Heartbeat(threading.Thread):
    def __init__(self, task_id: str):
        super().__init__(name=f"outbox-heartbeat-{task_id}", daemon=True)
        self.task_id = task_id
        self.stopped = threading.Event()

    def run(self):
        try:
            while not self.stopped.wait(settings.OUTBOX_HEARTBEAT_INTERVAL_SECONDS):
                try:
                    services.beat(self.task_id)
                except Exception:  # noqa: BLE001 - the database is away; the next beat may land
                    log.warning("Outbox heartbeat of task %s failed", self.task_id, exc_info=True)
        finally:
            connections.close_all()  # this thread's own connections


@task_prerun.connect
def _task_started(task_id=None, task=None, **kwargs):
    if not task_id:
        return
    if not services.mark_started(task_id, worker=task.request.hostname or ""):
        _not_ours.add(task_id)
        return
    if not task.request.is_eager:
        heartbeat = _heartbeats[task_id] = _Heartbeat(task_id)
        heartbeat.start()


@task_retry.connect
def _task_retrying(request=None, reason=None, **kwargs):
    when = getattr(reason, "when", None)
    if isinstance(when, numbers.Number):
        countdown = float(when)
    elif when is not None:
        countdown = max(0.0, (when - timezone.now()).total_seconds())
    else:
        countdown = 0.0
    services.mark_retrying(request.id, countdown_s=countdown, reason=str(getattr(reason, "exc", "") or ""))


@task_postrun.connect
def _task_finished(task_id=None, state=None, retval=None, **kwargs):
    heartbeat = _heartbeats.pop(task_id, None)
    if heartbeat is not None:
        heartbeat.stopped.set()
    if task_id in _not_ours:
        _not_ours.discard(task_id)
        return  # the row belongs to the delivery that claimed it
    if state == "RETRY":
        return  # _task_retrying put it back on the clock
    services.mark_finished(task_id, error=f"{type(retval).__name__}: {retval}" if state == "FAILURE" else "")

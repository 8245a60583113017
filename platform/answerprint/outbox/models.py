"""The outbox: Celery work that matters, recorded in the database with the change that needs it.

A row is written in the same transaction as that change (a queued fix job, an uploaded asset),
so if the change is committed the work is on record, whatever happens to Redis or a worker
afterwards. The message is published after commit; the worker marks the row as it starts,
keeps a heartbeat on it while it runs and closes it at the end; the beat sweep publishes
again whatever was never picked up or stopped heartbeating (services.resend_stale).
"""
from django.db import models
from django.utils import timezone


class TaskState(models.TextChoices):
    PENDING = "pending", "Recorded, not yet published"
    SENT = "sent", "Published, waiting for a worker"
    STARTED = "started", "Running on a worker"
    DONE = "done", "Finished"


class OutboxTask(models.Model):
    task_name = models.CharField(max_length=200)
    args = models.JSONField(default=list)
    # Publishing options passed to apply_async (queue, time limits); never the task id.
    options = models.JSONField(default=dict)
    # The task name and arguments: at most one unfinished row per piece of work.
    key = models.CharField(max_length=300)
    task_id = models.CharField(max_length=64, unique=True)
    state = models.CharField(max_length=20, choices=TaskState.choices, default=TaskState.PENDING)
    recorded_at = models.DateTimeField(auto_now_add=True)
    # When a worker should have it: the last publish, or the end of a retry's countdown.
    due_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    sends = models.PositiveIntegerField(default=0)
    worker = models.CharField(max_length=200, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["key"], condition=~models.Q(state="done"),
                                               name="outbox_one_unfinished_per_key")]
        indexes = [models.Index(fields=["state", "due_at"]), models.Index(fields=["state", "heartbeat_at"])]

    def __str__(self):
        return f"{self.task_name}{tuple(self.args)} ({self.state})"

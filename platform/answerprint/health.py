"""Health endpoints for load balancers, orchestrators and people.

/healthz  liveness: this process answers. Nothing else is checked, so a database outage does not
          make an orchestrator restart every web process at once.
/readyz   readiness: the database, Redis and media storage decide it (503 when one fails, so a
          load balancer stops sending traffic here). Also reported, as "degraded", without
          taking the process out of rotation - they are the workers' and beat's health, not this
          process's: the Celery queues' depth, recorded work that went missing (the outbox), and
          audit events left unsealed. JSON either way.

Answered by a middleware placed first, before the HTTPS redirect and the host check: probes come
from inside the network by address, not through the public name over TLS.
"""
import json
import time
from datetime import timedelta

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection
from django.http import HttpResponse
from django.utils import timezone

# Queues the workers consume (settings.CELERY_TASK_ROUTES); kombu's Redis transport keeps each as a list.
QUEUES = ("default", "media", "gpu")


def _database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {}


def _redis_client():
    import redis

    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)


def _redis_and_queues():
    if not settings.REDIS_URL:
        return {"detail": "no REDIS_URL: one process, in-memory layer"}
    client = _redis_client()
    try:
        client.ping()
        depth = {queue: client.llen(queue) for queue in QUEUES}
    finally:
        client.close()
    deepest = max(depth.values())
    if deepest > settings.READYZ_MAX_QUEUE_DEPTH:
        raise RuntimeError(f"{deepest} messages waiting in one queue (limit {settings.READYZ_MAX_QUEUE_DEPTH}): "
                           f"{depth}")
    return {"queue_depth": depth}


def _storage():
    default_storage.exists(".readyz")  # a round trip to the storage; the answer does not matter
    return {}


def _outbox():
    from answerprint.outbox.services import stale_tasks

    stale = stale_tasks().count()
    return {"ok": stale <= settings.READYZ_MAX_STALE_TASKS, "stale_tasks": stale}


def _audit_backlog():
    from answerprint.audit.models import AuditEvent

    cutoff = timezone.now() - timedelta(seconds=settings.READYZ_MAX_UNSEALED_SECONDS)
    waiting = AuditEvent.objects.filter(sequence__isnull=True, occurred_at__lt=cutoff).count()
    return {"ok": not waiting, "unsealed_older_than_limit": waiting}


# name -> (check, whether a failure makes this process not ready)
CHECKS = {"database": (_database, True), "redis": (_redis_and_queues, True), "storage": (_storage, True),
          "outbox": (_outbox, False), "audit": (_audit_backlog, False)}


def readiness():
    """(ready, report): each check's time and details, or its error."""
    report, ready, degraded = {}, True, []
    for name, (check, critical) in CHECKS.items():
        started = time.monotonic()
        try:
            result = {"ok": True, **check()}
        except Exception as error:  # noqa: BLE001 - any failure is the answer
            result = {"ok": False, "error": f"{type(error).__name__}: {error}"[:500]}
        if not result["ok"]:
            if critical:
                ready = False
            else:
                degraded.append(name)
        result["ms"] = round((time.monotonic() - started) * 1000, 1)
        report[name] = result
    return ready, {"checks": report, "degraded": degraded}


def _json(status, body):
    return HttpResponse(json.dumps(body), status=status, content_type="application/json",
                        headers={"Cache-Control": "no-store"})


class HealthMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path == "/healthz":
            return _json(200, {"status": "ok"})
        if request.path == "/readyz":
            ready, report = readiness()
            return _json(200 if ready else 503, {"status": "ready" if ready else "not ready", **report})
        return self.get_response(request)

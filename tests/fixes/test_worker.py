"""A real Celery worker on the `gpu` queue, killed with SIGKILL in the middle of a job.

The test database must be shared with the worker processes, so this runs on PostgreSQL with
Redis (DATABASE_URL and REDIS_URL). The job is a real removal fit on a tiny clip; the broker's
visibility timeout of the second worker is one second, so the message the dead worker held is
handed out again as soon as that worker starts, as Redis would after the configured timeout.
"""
import os
import signal
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.db import connection

from answerprint.audit.models import AuditEvent
from answerprint.fixes.models import Job, JobState, Proposal, RequestState
from tests.fixes.conftest import World
from tests.fixes.test_runner import put_real_plate


def _worker(name, env, log):
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "answerprint", "worker", "-Q", "gpu", "--pool", "solo",
         "-n", f"{name}@%h", "--without-heartbeat", "--without-gossip", "--without-mingle", "-l", "INFO"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _wait(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _stop(process):
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_job_is_replaced_and_the_job_completes_once(postgres_only, tmp_path, settings):
    if not settings.REDIS_URL:
        pytest.skip("needs Redis (set REDIS_URL)")
    import redis

    broker = redis.Redis.from_url(settings.REDIS_URL)
    queue_keys = ("gpu", "media", "unacked", "unacked_index", "unacked_mutex")
    broker.delete(*queue_keys)  # no message left over from an earlier run
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

    # given a removal of a real (tiny) clip, queued on the gpu queue in Redis
    world = World()
    put_real_plate(world, tmp_path)
    fix = world.removal(params={"iterations": 40})
    job = fix.jobs.get()

    env = {**os.environ, "DATABASE_URL": _database_url(), "REDIS_URL": settings.REDIS_URL,
           "MEDIA_ROOT": str(settings.MEDIA_ROOT), "PYTHONPATH": os.pathsep.join(
               [str(settings.BASE_DIR / "platform"), str(settings.BASE_DIR)]),
           "INFERENCE_THREADS": "1", "DJANGO_SETTINGS_MODULE": "answerprint.settings"}
    log = open(tmp_path / "workers.log", "w")
    first = _worker("first", env, log)
    second = None
    try:
        # when the first worker is killed while the job is running
        _wait(lambda: Job.objects.filter(pk=job.pk, state=JobState.RUNNING, progress__gt=0).exists(), 60,
              "the first worker to report progress")
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        assert Job.objects.get(pk=job.pk).state == JobState.RUNNING  # the dead worker left it mid-way

        # and another worker starts
        second = _worker("second", {**env, "CELERY_VISIBILITY_TIMEOUT": "1", "OUTBOX_HEARTBEAT_SECONDS": "1"}, log)

        # then the job is delivered again, taken over, and completes exactly once
        _wait(lambda: Job.objects.filter(pk=job.pk, state__in=[JobState.SUCCEEDED, JobState.FAILED]).exists(), 120,
              "the second worker to finish the job")
    finally:
        for process in (first, second):
            if process is not None:
                _stop(process)
        log.close()
        broker.delete(*queue_keys)  # the proposal's ingest message: no media worker here
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED, (tmp_path / "workers.log").read_text()[-3000:]
    assert job.deliveries == 2 and Proposal.objects.filter(request=fix).count() == 1
    assert fix.__class__.objects.get(pk=fix.pk).state == RequestState.PROPOSED
    takeover = AuditEvent.objects.get(action="fix_job.taken_over")
    assert takeover.before["worker"].startswith("first@") and takeover.after["worker"].startswith("second@")


def _database_url():
    params = connection.settings_dict
    user = params["USER"] or "postgres"
    password = f":{params['PASSWORD']}" if params["PASSWORD"] else ""
    return f"postgres://{user}{password}@{params['HOST'] or '127.0.0.1'}:{params['PORT'] or 5432}/{params['NAME']}"

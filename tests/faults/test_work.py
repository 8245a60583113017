"""Queued work under faults, with real processes: the run command (daphne, a Celery worker and
beat under its supervisor) against a Redis of the test's own, sharing one SQLite file.

The outbox bounds are shortened so each test takes seconds, not minutes; the mechanism is the
production one. After every test the audit chain is verified (`audit_verify`)."""
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from answerprint.localredis import free_port, redis_server_args, wait_for_redis
from tests.processes import ROOT, environment, manage, query, run_script, stop, wait_until

pytestmark = pytest.mark.slow

QUICK_OUTBOX = {"OUTBOX_QUEUED_SECONDS": "3", "OUTBOX_HEARTBEAT_SECONDS": "5",
                "OUTBOX_HEARTBEAT_INTERVAL_SECONDS": "1", "OUTBOX_SWEEP_SECONDS": "1",
                "WORKER_CONCURRENCY": "1", "INFERENCE_THREADS": "1", "LOG_LEVEL": "INFO"}

FIX_WORLD = """
from pathlib import Path
from tests.fixes.conftest import World
from tests.fixes.test_runner import put_real_plate
world = World()
put_real_plate(world, Path(settings.MEDIA_ROOT).parent)
fix = world.removal(params={"iterations": 150})
print(json.dumps({"request": fix.pk, "job": fix.jobs.get().pk}))
"""

INGEST_WORLD = """
from pathlib import Path
from django.core.files.uploadedfile import SimpleUploadedFile
from answerprint.accounts.models import Role
from answerprint.media.services import ingest_upload
from tests.factories import ProductionFactory, ShotFactory, member
from tests.fixes.test_runner import plate_clip
production = ProductionFactory(code="faults")
shot = ShotFactory(production=production, name="SC001_SH010")
clip = plate_clip(Path(settings.MEDIA_ROOT).parent / "clip.mp4")
upload = SimpleUploadedFile("clip.mp4", Path(clip).read_bytes(), content_type="video/mp4")
version = ingest_upload(actor=member(production, Role.EDITOR), shot=shot, uploaded_file=upload)
print(json.dumps({"asset": version.asset.pk}))
"""


class RunCommand:
    """`manage.py serve_local` in the background, its output kept for reading."""

    def __init__(self, env, log_path):
        self.log_path = log_path
        log = open(log_path, "w")
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "serve_local", "--no-demo", "--port", str(free_port())],
            env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()

    def output(self):
        return self.log_path.read_text(errors="replace")

    def started(self, name):
        """Pids of `name` in the order the supervisor started them."""
        return [int(pid) for pid in re.findall(rf"system \| {name} started \(pid (\d+)\)", self.output())]

    def stop(self):
        stop(self.process, grace=20)


def _verify_audit(env):
    verified = manage(env, "audit_verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_the_private_redis_keeps_what_it_was_given_across_a_crash(tmp_path):
    # given the run command's Redis, holding a queued message
    import redis

    port = free_port()
    process = subprocess.Popen(redis_server_args(port, tmp_path), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        wait_for_redis(port, process)
        redis.Redis(port=port).lpush("media", b"an ingest")
        time.sleep(1.5)  # appendfsync everysec

        # when it is killed outright and started again
        process.kill()
        process.wait(10)
        process = subprocess.Popen(redis_server_args(port, tmp_path), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        wait_for_redis(port, process)

        # then the message is still there
        assert redis.Redis(port=port).lrange("media", 0, -1) == [b"an ingest"]
    finally:
        process.kill()
        process.wait(10)


def test_an_ingest_queued_before_redis_restarted_empty_completes(tmp_path, own_redis):
    # given an upload whose ingest was published to a Redis that then restarted empty
    redis_server = own_redis(persistent=False)
    env = environment(tmp_path, redis_server.url, **QUICK_OUTBOX)
    world = run_script(env, INGEST_WORLD)
    database = tmp_path / "shared.sqlite3"
    redis_server.kill()
    redis_server.start()
    run = None
    try:
        # when the run command starts its worker and beat
        run = RunCommand(env, tmp_path / "run.log")

        # then the outbox sweep publishes the lost ingest again and it completes
        wait_until(lambda: query(database, "SELECT status FROM media_mediaasset WHERE id = ?", world["asset"])[0][0]
                   in ("ready", "failed"), 180, "the ingest to finish", interval=0.5)
    finally:
        if run is not None:
            run.stop()
    status, reason = query(database, "SELECT status, status_reason FROM media_mediaasset WHERE id = ?",
                           world["asset"])[0]
    assert status == "ready", (reason, run.output()[-4000:])
    sends, state = query(database, "SELECT sends, state FROM outbox_outboxtask WHERE task_name = ?",
                         "answerprint.media.tasks.process_asset")[0]
    assert (sends, state) == (2, "done")
    _verify_audit(env)


def test_a_worker_sigkilled_mid_fix_is_restarted_and_the_job_completes_exactly_once(tmp_path, own_redis):
    # given a removal queued in Redis and the run command serving it
    redis_server = own_redis(persistent=True)
    env = environment(tmp_path, redis_server.url, **QUICK_OUTBOX)
    world = run_script(env, FIX_WORLD)
    database = tmp_path / "shared.sqlite3"
    job_row = "SELECT state, progress, deliveries FROM fixes_job WHERE id = ?"
    run = RunCommand(env, tmp_path / "run.log")
    try:
        def running_with_progress():
            state, progress, _ = query(database, job_row, world["job"])[0]
            return state == "running" and progress > 0

        wait_until(running_with_progress, 240, "the worker to report progress on the job", interval=0.2)

        # when the Celery worker's main process is SIGKILLed mid-job
        worker = run.started("worker")[-1]
        os.kill(worker, signal.SIGKILL)
        killed_at = time.monotonic()

        # then the run command restarts the worker, and the job is sent again and finishes
        wait_until(lambda: len(run.started("worker")) == 2, 30, "the worker to be restarted")
        wait_until(lambda: query(database, job_row, world["job"])[0][0] in ("succeeded", "failed"), 240,
                   "the job to finish", interval=0.5)
        finished_after = time.monotonic() - killed_at
    finally:
        run.stop()
    output = run.output()
    state, _, deliveries = query(database, job_row, world["job"])[0]
    assert state == "succeeded", output[-5000:]
    assert "worker was killed by signal 9" in output and "restarting it" in output
    assert len(run.started("web")) == 1 and len(run.started("beat")) == 1  # nothing else was stopped
    # exactly once: one proposal, the second delivery took the job over
    assert deliveries == 2
    assert query(database, "SELECT COUNT(*) FROM fixes_proposal WHERE request_id = ?", world["request"]) == [(1,)]
    assert query(database, "SELECT COUNT(*) FROM audit_auditevent WHERE action = 'fix_job.taken_over'") == [(1,)]
    # within the bound: heartbeat bound + a sweep + a worker start + the run itself
    assert finished_after < 200, finished_after
    _verify_audit(env)

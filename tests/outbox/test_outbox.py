"""Work that matters is on record with the change that needs it, and what goes missing is sent
again: never picked up, or left by a worker that stopped heartbeating."""
from datetime import timedelta
from unittest import mock

import pytest
from django.db import transaction
from django.utils import timezone

from answerprint.audit.models import AuditEvent
from answerprint.celery import tasks_run_here
from answerprint.fixes import job_tasks, services as fix_services
from answerprint.fixes.errors import Conflict
from answerprint.fixes.models import JobState
from answerprint.outbox import services as outbox
from answerprint.outbox.models import OutboxTask, TaskState
from answerprint.review import tasks as review_tasks
from tests.fixes.conftest import World


@pytest.fixture
def world(db, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return World()


def _queued_job(world, django_capture_on_commit_callbacks):
    with mock.patch.object(job_tasks.run_fix_job, "apply_async") as apply_async:
        with django_capture_on_commit_callbacks(execute=True):
            fix = world.removal()
    job = fix.jobs.get()
    return fix, job, apply_async


def test_a_fix_job_is_on_record_with_its_request_and_published_after_commit(world, django_capture_on_commit_callbacks):
    # when a supervisor asks for a fix
    fix, job, apply_async = _queued_job(world, django_capture_on_commit_callbacks)

    # then the job's task is on record under the job's task id, and was published once, to the gpu queue
    task = OutboxTask.objects.get(task_name=fix_services.RUN_JOB_TASK)
    assert task.args == [job.pk] and task.task_id == job.task_id and task.state == TaskState.SENT
    apply_async.assert_called_once_with(args=[job.pk], task_id=job.task_id, queue="gpu",
                                        soft_time_limit=job.time_limit_s, time_limit=job.time_limit_s + 60)


def test_nothing_is_on_record_when_the_change_rolls_back(world):
    # when the transaction that asks for a fix fails after the request was written
    with pytest.raises(RuntimeError), transaction.atomic():
        world.removal()
        raise RuntimeError("the caller failed")

    # then no work is on record either
    assert not OutboxTask.objects.exists()


def test_a_task_nobody_picked_up_is_sent_again_after_the_bound_and_not_before(world, settings,
                                                                             django_capture_on_commit_callbacks):
    # given a published job that no worker started (Redis restarted without its queue)
    fix, job, _ = _queued_job(world, django_capture_on_commit_callbacks)
    settings.OUTBOX_QUEUED_SECONDS = 120
    task = OutboxTask.objects.get(task_id=job.task_id)

    with mock.patch.object(job_tasks.run_fix_job, "apply_async") as apply_async:
        # when the sweep runs inside the bound, nothing is sent
        assert outbox.resend_stale(now=task.due_at + timedelta(seconds=119)) == 0
        # when it runs past it, the same task is sent again
        assert outbox.resend_stale(now=task.due_at + timedelta(seconds=121)) == 1

    apply_async.assert_called_once()
    assert apply_async.call_args.kwargs["task_id"] == job.task_id
    task.refresh_from_db()
    assert task.sends == 2


def test_a_started_task_whose_heartbeat_stopped_is_sent_again(world, settings, django_capture_on_commit_callbacks):
    # given a job a worker started, and heartbeated, then died
    fix, job, _ = _queued_job(world, django_capture_on_commit_callbacks)
    settings.OUTBOX_HEARTBEAT_SECONDS = 60
    assert outbox.mark_started(job.task_id, worker="gpu-1")
    beat_at = OutboxTask.objects.get(task_id=job.task_id).heartbeat_at

    with mock.patch.object(job_tasks.run_fix_job, "apply_async") as apply_async:
        # when the sweep runs while the heartbeat is fresh, nothing is sent
        assert outbox.resend_stale(now=beat_at + timedelta(seconds=59)) == 0
        # and once it is older than the bound, the task goes again
        assert outbox.resend_stale(now=beat_at + timedelta(seconds=61)) == 1
    assert apply_async.call_args.kwargs["task_id"] == job.task_id


@pytest.mark.django_db(transaction=True)
def test_the_worker_marks_a_recorded_task_started_and_then_done():
    # given a task on record
    with transaction.atomic():
        task = outbox.record_task(review_tasks.expire_presence.name, [])

    # when a worker runs it (here, in this process)
    with tasks_run_here():
        assert outbox.publish(review_tasks.expire_presence.name, [])

    # then its row shows it started and finished, and the sweep leaves it alone
    task.refresh_from_db()
    assert task.state == TaskState.DONE and task.started_at and task.finished_at
    assert not outbox.stale_tasks(now=timezone.now() + timedelta(days=1)).exists()


def test_work_already_on_record_is_not_recorded_twice(db):
    first = outbox.record_task(review_tasks.expire_presence.name, [])
    again = outbox.record_task(review_tasks.expire_presence.name, [])
    assert first.pk == again.pk and OutboxTask.objects.count() == 1


def test_a_stuck_job_can_be_sent_again_by_a_person_and_it_is_audited(world, settings,
                                                                    django_capture_on_commit_callbacks):
    # given a job whose worker stopped heartbeating a while ago
    fix, job, _ = _queued_job(world, django_capture_on_commit_callbacks)
    fix_services.start_job(job.pk, worker="gpu-1")
    outbox.mark_started(job.task_id, worker="gpu-1")
    OutboxTask.objects.filter(task_id=job.task_id).update(heartbeat_at=timezone.now() - timedelta(minutes=5))

    # when the supervisor asks to run it again
    with mock.patch.object(job_tasks.run_fix_job, "apply_async") as apply_async:
        with django_capture_on_commit_callbacks(execute=True):
            fix_services.retry_fix_request(actor=world.supervisor, fix=fix, reason="stuck at 18%")

    # then the same job is sent again, and the log says who did it and why
    assert apply_async.call_args.kwargs["task_id"] == job.task_id
    event = AuditEvent.objects.get(action="fix_job.resent")
    assert event.reason == "stuck at 18%" and event.actor_id == world.supervisor.pk


def test_a_job_that_is_still_heartbeating_is_not_sent_again_and_the_person_is_told_why(
        world, django_capture_on_commit_callbacks):
    # given a job a live worker is running
    fix, job, _ = _queued_job(world, django_capture_on_commit_callbacks)
    fix_services.start_job(job.pk, worker="gpu-1")
    outbox.mark_started(job.task_id, worker="gpu-1")

    # when someone asks to run it again
    with pytest.raises(Conflict) as refused:
        fix_services.retry_fix_request(actor=world.supervisor, fix=fix)

    # then they are told it is being worked on, and when it would be sent again by itself
    assert refused.value.message.startswith("This one is running. Only a failed or stuck request can be retried")
    assert "stops reporting for 60 s" in refused.value.message
    assert fix.jobs.get().state == JobState.RUNNING


def test_a_cancelled_job_is_not_sent_again(world, settings, django_capture_on_commit_callbacks):
    # given a queued job that nobody picked up
    fix, job, _ = _queued_job(world, django_capture_on_commit_callbacks)

    # when the supervisor cancels it
    with mock.patch("answerprint.fixes.services._revoke_task"):
        fix_services.cancel_fix_request(actor=world.supervisor, fix=fix, reason="wrong shot")

    # then the sweep, long past the bound, has nothing to send
    settings.OUTBOX_QUEUED_SECONDS = 0
    with mock.patch.object(job_tasks.run_fix_job, "apply_async") as apply_async:
        assert outbox.resend_stale(now=timezone.now() + timedelta(hours=1)) == 0
    apply_async.assert_not_called()
    assert OutboxTask.objects.get(task_id=job.task_id).state == TaskState.DONE

"""The `gpu` queue's task for a fix job: thin, it takes the job's id and runs it (runner.py).

Acknowledged late (settings): a worker that dies mid-job leaves the message to be delivered
again, and start_job sees the job still `running` and lets the new delivery take over. A passing
failure (out of memory, storage hiccup) puts the job back in the queue with backoff; a job that
keeps failing, or keeps killing its worker, ends failed with the reason.
"""
from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

RETRIES = 2
BACKOFF_SECONDS = 30


@shared_task(bind=True, name="answerprint.fixes.job_tasks.run_fix_job", acks_late=True, max_retries=RETRIES)
def run_fix_job(self, job_id):
    from . import runner, services
    from .errors import JobStopped

    try:
        runner.run_job(job_id, worker=self.request.hostname or "")
    except JobStopped:
        return
    except SoftTimeLimitExceeded:
        services.fail_job(job_id, "Stopped at its time limit.")
    except Exception as error:
        reason = f"{type(error).__name__}: {error}"
        if self.request.retries >= RETRIES:
            services.fail_job(job_id, f"Failed {RETRIES + 1} times; last: {reason}")
            raise
        services.requeue_job(job_id, reason)
        raise self.retry(exc=error, countdown=BACKOFF_SECONDS * 2 ** self.request.retries)

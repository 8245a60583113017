"""Celery tasks of the delivery app: package builds on the `media` queue, webhooks on `default`
(settings.CELERY_TASK_ROUTES). Thin: ids in, a service does the work."""
from celery import shared_task

from . import services


@shared_task(bind=True, acks_late=True, autoretry_for=(Exception,), max_retries=services.MAX_BUILD_ATTEMPTS - 1,
             retry_backoff=30, retry_backoff_max=600, retry_jitter=True)
def build_package(self, package_id):
    """Build one delivery package. Bad media fails it inside the service; an unexpected error is
    retried with backoff and, after the last try, fails the package visibly."""
    retries = self.request.retries
    while True:
        try:
            services.build_package(package_id)
            return
        except Exception as error:
            final = retries >= self.max_retries
            services.note_build_crash(package_id, error, final=final)
            if final:
                return
            if not self.request.is_eager:
                raise
            retries += 1


@shared_task(acks_late=True)
def send_webhook(delivery_id):
    """Send one webhook delivery now; a failure is recorded on the row and retried by the sweep."""
    from . import webhooks

    webhooks.send(delivery_id)


@shared_task
def sweep_webhooks():
    """Celery beat: send the webhook deliveries that are due (new ones whose task was lost, retries)."""
    from . import webhooks

    webhooks.sweep()

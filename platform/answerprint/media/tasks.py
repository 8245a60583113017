"""Celery tasks of the `media` queue (routed by settings.CELERY_TASK_ROUTES). Thin: ids in,
a service does the work."""
from celery import shared_task

from . import services

MAX_RETRIES = 3


@shared_task(bind=True, acks_late=True, autoretry_for=(Exception,), max_retries=MAX_RETRIES,
             retry_backoff=30, retry_backoff_max=600, retry_jitter=True)
def process_asset(self, asset_id):
    """Ingest one asset.

    Bad media fails the asset inside the service and raises nothing. An unexpected error is
    retried with backoff (autoretry), and after the last retry the asset is failed visibly
    instead of being left "in progress". Run eagerly (tests, one local process), Celery would
    raise its Retry into the caller instead of retrying, so the retries happen here, at once.
    """
    retries = self.request.retries
    while True:
        try:
            services.process_asset(asset_id)
            return
        except Exception as error:
            final = retries >= self.max_retries
            services.note_ingest_crash(asset_id, error, final=final)
            if final:
                return
            if not self.request.is_eager:
                raise
            retries += 1

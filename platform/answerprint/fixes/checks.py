"""Deployment checks for the GPU queue."""
from django.conf import settings
from django.core.checks import Error, register


@register("fixes")
def visibility_timeout_outlasts_jobs(app_configs, **kwargs):
    """With acks_late, Redis hands a task to another worker once its visibility timeout passes:
    a timeout shorter than the longest job would run every long job twice."""
    from .services import job_time_limit

    timeout = (getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}) or {}).get("visibility_timeout", 3600)
    longest = job_time_limit() + 60  # the hard limit the task runs under
    if timeout <= longest:
        return [Error(f"CELERY_BROKER_TRANSPORT_OPTIONS['visibility_timeout'] ({timeout} s) must exceed the longest "
                      f"fix job ({longest} s): with late acknowledgement Redis would deliver running jobs again.",
                      hint="Raise CELERY_VISIBILITY_TIMEOUT or lower FIX_JOB_TIME_LIMIT.", id="fixes.E001")]
    return []

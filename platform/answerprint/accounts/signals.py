"""Log-in, log-out and failed log-ins go to the audit log, from the request that made them."""
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db import transaction
from django.dispatch import receiver

from answerprint.audit.services import record_event


@receiver(user_logged_in)
def audit_log_in(sender, request, user, **kwargs):
    with transaction.atomic():
        record_event("auth.logged_in", actor=user, target=user)


@receiver(user_logged_out)
def audit_log_out(sender, request, user, **kwargs):
    if user is not None:
        with transaction.atomic():
            record_event("auth.logged_out", actor=user, target=user)


@receiver(user_login_failed)
def audit_failed_log_in(sender, credentials, request=None, **kwargs):
    # Never the password: only the name that was tried.
    with transaction.atomic():
        record_event("auth.login_failed", actor_name="anonymous",
                     after={"username": str(credentials.get("username", ""))[:150]})

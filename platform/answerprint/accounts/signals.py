"""Log-in, log-out and failed log-ins go to the audit log, from the request that made them."""
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db import transaction
from django.dispatch import receiver

from answerprint.audit.services import record_event

from . import lockout


@receiver(user_logged_in)
def audit_log_in(sender, request, user, **kwargs):
    with transaction.atomic():
        record_event("auth.logged_in", actor=user, target=user)
        lockout.forget_account_failures(user.get_username())


@receiver(user_logged_out)
def audit_log_out(sender, request, user, **kwargs):
    if user is not None:
        with transaction.atomic():
            record_event("auth.logged_out", actor=user, target=user)


@receiver(user_login_failed)
def count_failed_log_in(sender, credentials, request=None, **kwargs):
    # Counted for the lock-out, and audited there in aggregate: a flood of guesses must not
    # become a flood of events. Never the password: only the name that was tried.
    where = "admin" if request is not None and request.path.startswith("/admin/") else "login"
    address = request.META.get("REMOTE_ADDR", "") if request is not None else None
    lockout.record_failure(str(credentials.get("username", "")), where=where, address=address)

"""The password back end, refusing an account name or address that is locked out."""
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied

from . import lockout


class LockoutModelBackend(ModelBackend):
    """ModelBackend that refuses, even with the right password, while a lock holds.

    Raising PermissionDenied stops every back end and makes Django send `user_login_failed`,
    so a try during the lock is counted like any other failure.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(self.get_user_model().USERNAME_FIELD)
        if username is not None and lockout.lock_for(username, _address(request)):
            raise PermissionDenied("locked out")
        return super().authenticate(request, username=username, password=password, **kwargs)


def _address(request) -> str | None:
    # The audit context knows the address when a request is being served; a request passed in
    # directly (tests, the admin) is asked itself.
    return request.META.get("REMOTE_ADDR", "") if request is not None else None

"""Log-in forms that say when a lock-out, not a wrong password, is the reason."""
from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm

from . import lockout


class LockoutAwareMixin:
    def clean(self):
        try:
            return super().clean()
        except forms.ValidationError:
            request = getattr(self, "request", None)
            address = request.META.get("REMOTE_ADDR", "") if request is not None else None
            lock = lockout.lock_for(self.cleaned_data.get("username") or "", address)
            if lock:
                raise forms.ValidationError(lock.message, code="locked_out") from None
            raise


class LoginForm(LockoutAwareMixin, AuthenticationForm):
    pass


class AdminLoginForm(LockoutAwareMixin, AdminAuthenticationForm):
    pass

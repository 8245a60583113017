"""Shared API plumbing: one error shape for every endpoint."""
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    # Services raise Django's ValidationError; the API answers it as a 400 with the messages.
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        )
    return drf_exception_handler(exc, context)


class ProductionScopedView:
    """For views under /productions/<code>/: resolves the production and the caller's membership.

    A production the caller does not belong to is a 404, exactly like one that does not exist;
    a member whose role lacks the capability gets a 403 naming what was refused.
    """

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        from answerprint.accounts.selectors import production_and_membership

        self.production, self.membership = production_and_membership(request.user, kwargs["code"])

    def require(self, capability):
        from answerprint.accounts.permissions import require

        require(self.membership, capability)

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


def paginated(serializer_class):
    """The schema of a page of `serializer_class` items, as LimitOffsetPagination answers it.

    Views that page by hand (an APIView calling the paginator) must say so in their schema, or
    the documentation promises a bare list where clients get {count, next, previous, results}.
    """
    from drf_spectacular.utils import inline_serializer
    from rest_framework import serializers

    return inline_serializer(name=f"Paginated{serializer_class.__name__.removesuffix('Serializer')}List", fields={
        "count": serializers.IntegerField(),
        "next": serializers.URLField(allow_null=True),
        "previous": serializers.URLField(allow_null=True),
        "results": serializer_class(many=True),
    })


def page_parameters():
    """The limit and offset query parameters of a page."""
    from drf_spectacular.types import OpenApiTypes
    from drf_spectacular.utils import OpenApiParameter

    return [OpenApiParameter("limit", OpenApiTypes.INT, description="items per page (default 100)"),
            OpenApiParameter("offset", OpenApiTypes.INT, description="items to skip")]

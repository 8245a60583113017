from django.contrib.auth import get_user_model
from django.db import transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView
from django.urls import path

from answerprint.api import ProductionScopedView

from . import services, tokens
from .models import ApiToken, Membership
from .selectors import productions_for
from .serializers import (MembershipGrantSerializer, MembershipSerializer, ProductionSerializer,
                          ProductionUpdateSerializer)


def _roles(user):
    return dict(Membership.objects.active().filter(user=user).values_list("production_id", "role"))


class ProductionListView(generics.ListCreateAPIView):
    serializer_class = ProductionSerializer

    def get_queryset(self):
        return productions_for(self.request.user).order_by("title")

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "roles": _roles(self.request.user)}

    def perform_create(self, serializer):
        # Productions are opened by the studio's staff; whoever opens one becomes its producer.
        if not self.request.user.is_staff:
            raise PermissionDenied("Only studio staff may open a production.")
        data = serializer.validated_data
        serializer.instance = services.create_production(
            actor=self.request.user, code=data["code"], title=data["title"],
            description=data.get("description", ""), fps_num=data.get("fps_num", 24),
            fps_den=data.get("fps_den", 1), producer=self.request.user,
        )
        serializer.context["roles"] = _roles(self.request.user)


class ProductionDetailView(ProductionScopedView, APIView):
    @extend_schema(responses=ProductionSerializer)
    def get(self, request, code):
        return Response(ProductionSerializer(self.production, context={"roles": _roles(request.user)}).data)

    @extend_schema(request=ProductionUpdateSerializer, responses=ProductionSerializer)
    def patch(self, request, code):
        self.require("edit_production")
        serializer = ProductionUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        reason = changes.pop("reason", "")
        production = services.update_production(actor=request.user, production=self.production,
                                                reason=reason, **changes)
        return Response(ProductionSerializer(production, context={"roles": _roles(request.user)}).data)


class MembershipListView(ProductionScopedView, APIView):
    @extend_schema(responses=MembershipSerializer(many=True))
    def get(self, request, code):
        memberships = self.production.memberships.select_related("user").order_by("user__username")
        if not self.membership or self.membership.role != "producer":
            memberships = memberships.filter(revoked_at__isnull=True)
        return Response(MembershipSerializer(memberships, many=True).data)

    @extend_schema(request=MembershipGrantSerializer, responses=MembershipSerializer)
    def post(self, request, code):
        self.require("manage_members")
        serializer = MembershipGrantSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = get_user_model().objects.filter(username=data["username"], is_active=True).first()
        if user is None:
            return Response({"username": [f"No active user named {data['username']!r}."]},
                            status=status.HTTP_400_BAD_REQUEST)
        membership = services.add_member(actor=request.user, production=self.production, user=user,
                                         role=data["role"], expires_at=data.get("expires_at"),
                                         reason=data["reason"])
        return Response(MembershipSerializer(membership).data, status=status.HTTP_201_CREATED)


class MembershipDetailView(ProductionScopedView, APIView):
    @extend_schema(responses=None)
    def delete(self, request, code, membership_id):
        self.require("manage_members")
        membership = get_object_or_404(Membership, pk=membership_id, production=self.production)
        with transaction.atomic():
            services.revoke_member(actor=request.user, membership=membership,
                                   reason=request.query_params.get("reason", ""))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ApiTokenSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at", "uses"]
        read_only_fields = fields


class ApiTokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, help_text="the tool or machine that will use it")
    days = serializers.IntegerField(required=False, min_value=1, help_text="how long it lasts (default 90)")


class ApiTokenCreatedSerializer(ApiTokenSerializer):
    key = serializers.CharField(help_text="shown once: only its hash is kept")

    class Meta(ApiTokenSerializer.Meta):
        fields = ApiTokenSerializer.Meta.fields + ["key"]
        read_only_fields = fields


class ApiTokenListView(APIView):
    @extend_schema(responses=ApiTokenSerializer(many=True), description="Your own API tokens.")
    def get(self, request):
        return Response(ApiTokenSerializer(request.user.api_tokens.all(), many=True).data)

    @extend_schema(request=ApiTokenCreateSerializer, responses={201: ApiTokenCreatedSerializer},
                   description="Make a token; its key is in this answer only.")
    def post(self, request):
        serializer = ApiTokenCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token, key = tokens.create_token(actor=request.user, **serializer.validated_data)
        return Response({**ApiTokenSerializer(token).data, "key": key}, status=status.HTTP_201_CREATED)


class ApiTokenDetailView(APIView):
    @extend_schema(responses={204: None}, description="Revoke one of your tokens.")
    def delete(self, request, token_id):
        token = get_object_or_404(ApiToken, pk=token_id, user=request.user)
        tokens.revoke_token(actor=request.user, token=token)
        return Response(status=status.HTTP_204_NO_CONTENT)


urlpatterns = [
    path("tokens/", ApiTokenListView.as_view(), name="api-token-list"),
    path("tokens/<int:token_id>/", ApiTokenDetailView.as_view(), name="api-token-detail"),
    path("productions/", ProductionListView.as_view(), name="api-production-list"),
    path("productions/<str:code>/", ProductionDetailView.as_view(), name="api-production-detail"),
    path("productions/<str:code>/members/", MembershipListView.as_view(), name="api-membership-list"),
    path("productions/<str:code>/members/<int:membership_id>/", MembershipDetailView.as_view(),
         name="api-membership-detail"),
]

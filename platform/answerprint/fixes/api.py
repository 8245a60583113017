"""The fix workflow's REST API, under /api/productions/<code>/. Thin: parse, check permission,
call a service, shape the reply. A decision that lost a race answers 409 with who won."""
from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from answerprint.api import ProductionScopedView

from . import inputs, selectors, services
from .errors import Conflict
from .kinds import KINDS
from .models import FixPolicyChange, Origin, PolicyChangeState, RequestState
from .policy import needs_consent, policy_for
from .serializers import (ConsentInputSerializer, ConsentSerializer, DecisionInputSerializer, DecisionSerializer,
                          FixRequestDetailSerializer, FixRequestInputSerializer, FixRequestSerializer,
                          FixKindSerializer, PolicyChangeConfirmSerializer, PolicyChangeSerializer, PolicySerializer, ProposalSerializer,
                          FixReasonSerializer)


class FixView(ProductionScopedView, APIView):
    def handle_exception(self, exc):
        if isinstance(exc, Conflict):
            return Response({"detail": exc.message, "state": exc.current_state}, status=status.HTTP_409_CONFLICT)
        return super().handle_exception(exc)


class FixKindListView(FixView):
    @extend_schema(responses=FixKindSerializer(many=True),
                   description="Every fix kind: its change category, whether this production "
                                               "needs a consent for it, what it needs and its parameters.")
    def get(self, request, code):
        policy = policy_for(self.production)
        return Response([{**kind.describe(), "needs_consent": needs_consent(policy, kind)} for kind in KINDS.values()])


class FixRequestListView(FixView):
    @extend_schema(responses=FixRequestSerializer(many=True))
    def get(self, request, code):
        state = request.query_params.get("state") or None
        if state and state not in RequestState.values:
            return Response({"state": [f"Choose one of {', '.join(RequestState.values)}."]},
                            status=status.HTTP_400_BAD_REQUEST)
        shot = inputs.shot_in(self.production, request.query_params.get("shot"), "shot")
        return Response(FixRequestSerializer(selectors.requests_of(self.production, state=state, shot=shot),
                                             many=True).data)

    @extend_schema(request=FixRequestInputSerializer, responses=FixRequestDetailSerializer)
    def post(self, request, code):
        self.require("request_fix")
        serializer = FixRequestInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        arguments = inputs.request_arguments(self.production, serializer.validated_data)
        fix = services.request_fix(actor=request.user, origin=Origin.API, **arguments)
        return Response(FixRequestDetailSerializer(selectors.request_in(self.production, fix.pk)).data,
                        status=status.HTTP_200_OK if fix.duplicate else status.HTTP_201_CREATED)


class FixRequestDetailView(FixView):
    @extend_schema(responses=FixRequestDetailSerializer)
    def get(self, request, code, request_id):
        return Response(FixRequestDetailSerializer(selectors.request_in(self.production, request_id)).data)


class FixRequestCancelView(FixView):
    @extend_schema(request=FixReasonSerializer, responses=FixRequestDetailSerializer)
    def post(self, request, code, request_id):
        self.require("request_fix")
        fix = selectors.request_in(self.production, request_id)
        serializer = FixReasonSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.cancel_fix_request(actor=request.user, fix=fix, reason=serializer.validated_data.get("reason", ""))
        return Response(FixRequestDetailSerializer(selectors.request_in(self.production, request_id)).data)


class FixRequestRetryView(FixView):
    @extend_schema(request=FixReasonSerializer, responses=FixRequestDetailSerializer)
    def post(self, request, code, request_id):
        self.require("request_fix")
        fix = selectors.request_in(self.production, request_id)
        serializer = FixReasonSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.retry_fix_request(actor=request.user, fix=fix, reason=serializer.validated_data.get("reason", ""))
        return Response(FixRequestDetailSerializer(selectors.request_in(self.production, request_id)).data,
                        status=status.HTTP_202_ACCEPTED)


class ProposalDetailView(FixView):
    @extend_schema(responses=ProposalSerializer)
    def get(self, request, code, proposal_id):
        return Response(ProposalSerializer(selectors.proposal_in(self.production, proposal_id)).data)


class DecisionView(FixView):
    @extend_schema(request=DecisionInputSerializer, responses=DecisionSerializer,
                   description="Approve (an electronic signature: re-enter your password, choose the meaning and "
                               "send the record_hash you reviewed), reject or request changes. 409 when someone "
                               "else settled the proposal first or it is not the record you saw.")
    def post(self, request, code, proposal_id):
        self.require("decide")
        proposal = selectors.proposal_in(self.production, proposal_id)
        serializer = DecisionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        decision = services.decide_proposal(
            actor=request.user, proposal=proposal, outcome=data["outcome"], meaning=data.get("meaning", ""),
            password=data.get("password", ""), second_factor=data.get("second_factor", ""),
            record_hash=data.get("record_hash", ""), reason=data.get("reason", ""),
            follow_up=inputs.follow_up_arguments(self.production, data.get("follow_up")), origin=Origin.API,
            acknowledge_warning=data.get("acknowledge_warning", False))
        return Response(DecisionSerializer(decision).data, status=status.HTTP_201_CREATED)


class PromoteView(FixView):
    @extend_schema(request=FixReasonSerializer, responses=dict,
                   description="Make an approved proposal a delivery version. Anything else is refused.")
    def post(self, request, code, proposal_id):
        self.require("ingest")
        proposal = selectors.proposal_in(self.production, proposal_id)
        serializer = FixReasonSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        delivery = services.promote_to_delivery(actor=request.user, version=proposal.version,
                                                reason=serializer.validated_data.get("reason", ""))
        return Response({"delivery_version": delivery.pk, "number": delivery.number, "parent": delivery.parent_id},
                        status=status.HTTP_201_CREATED)


class ApprovalQueueView(FixView):
    @extend_schema(responses=ProposalSerializer(many=True),
                   description="Proposals waiting on the caller's signature, oldest first.")
    def get(self, request, code):
        waiting = selectors.approvals_waiting_on(request.user, self.membership, self.production)
        data = ProposalSerializer(waiting, many=True).data
        for item, proposal in zip(data, waiting):
            fix = proposal.request
            item.update(signing_as=proposal.signing_as, shot=fix.shot.name, reason=fix.reason,
                        requested_by=fix.requested_by.printed_name, requested_at=fix.created_at)
        return Response(data)


class ConsentListView(FixView):
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @extend_schema(responses=ConsentSerializer(many=True))
    def get(self, request, code):
        self.require("manage_consent")
        return Response(ConsentSerializer(selectors.consents_of(self.production), many=True).data)

    @extend_schema(request=ConsentInputSerializer, responses=ConsentSerializer)
    def post(self, request, code):
        self.require("manage_consent")
        serializer = ConsentInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        data["shots"] = [inputs.shot_in(self.production, name, "shots") for name in data["shots"]]
        consent = services.record_consent(actor=request.user, production=self.production, **data)
        return Response(ConsentSerializer(consent).data, status=status.HTTP_201_CREATED)


class ConsentRevokeView(FixView):
    @extend_schema(request=FixReasonSerializer, responses=ConsentSerializer)
    def post(self, request, code, consent_id):
        self.require("manage_consent")
        consent = selectors.consent_in(self.production, consent_id)
        serializer = FixReasonSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        consent = services.revoke_consent(actor=request.user, consent=consent,
                                          reason=serializer.validated_data.get("reason", ""))
        return Response(ConsentSerializer(consent).data)


class PolicyView(FixView):
    @extend_schema(responses=PolicySerializer)
    def get(self, request, code):
        return Response(PolicySerializer(policy_for(self.production)).data)

    @extend_schema(request=PolicySerializer, responses=PolicySerializer)
    def patch(self, request, code):
        self.require("edit_production")
        serializer = PolicySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = dict(serializer.validated_data)
        reason = values.pop("reason", "")
        change = services.update_fix_policy(actor=request.user, production=self.production, reason=reason, **values)
        if change.state == PolicyChangeState.PENDING:
            # A relaxation: nothing changed yet, a second producer or compliance must confirm it.
            return Response(PolicyChangeSerializer(change).data, status=status.HTTP_202_ACCEPTED)
        return Response(PolicySerializer(policy_for(self.production)).data)


class PolicyChangeListView(FixView):
    @extend_schema(responses=PolicyChangeSerializer(many=True))
    def get(self, request, code):
        changes = FixPolicyChange.objects.filter(production=self.production).select_related(
            "proposed_by", "confirmed_by").order_by("-proposed_at", "-pk")
        return Response(PolicyChangeSerializer(changes, many=True).data)


class PolicyChangeConfirmView(FixView):
    @extend_schema(request=PolicyChangeConfirmSerializer, responses=PolicyChangeSerializer,
                   description="A second producer, or compliance, confirms a pending relaxation of the approval "
                               "policy. It then holds for fix requests made from now on.")
    def post(self, request, code, change_id):
        change = get_object_or_404(FixPolicyChange, production=self.production, pk=change_id)
        serializer = PolicyChangeConfirmSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        change = services.confirm_fix_policy_change(actor=request.user, change=change,
                                                    reason=serializer.validated_data["reason"])
        return Response(PolicyChangeSerializer(change).data)


urlpatterns = [
    path("productions/<str:code>/fix-kinds/", FixKindListView.as_view(), name="api-fix-kinds"),
    path("productions/<str:code>/fixes/", FixRequestListView.as_view(), name="api-fix-list"),
    path("productions/<str:code>/fixes/<int:request_id>/", FixRequestDetailView.as_view(), name="api-fix-detail"),
    path("productions/<str:code>/fixes/<int:request_id>/cancel/", FixRequestCancelView.as_view(),
         name="api-fix-cancel"),
    path("productions/<str:code>/fixes/<int:request_id>/retry/", FixRequestRetryView.as_view(), name="api-fix-retry"),
    path("productions/<str:code>/proposals/<int:proposal_id>/", ProposalDetailView.as_view(),
         name="api-proposal-detail"),
    path("productions/<str:code>/proposals/<int:proposal_id>/decisions/", DecisionView.as_view(),
         name="api-proposal-decide"),
    path("productions/<str:code>/proposals/<int:proposal_id>/promote/", PromoteView.as_view(),
         name="api-proposal-promote"),
    path("productions/<str:code>/approvals/", ApprovalQueueView.as_view(), name="api-approvals"),
    path("productions/<str:code>/consents/", ConsentListView.as_view(), name="api-consent-list"),
    path("productions/<str:code>/consents/<int:consent_id>/revoke/", ConsentRevokeView.as_view(),
         name="api-consent-revoke"),
    path("productions/<str:code>/fix-policy/", PolicyView.as_view(), name="api-fix-policy"),
    path("productions/<str:code>/fix-policy/changes/", PolicyChangeListView.as_view(), name="api-fix-policy-changes"),
    path("productions/<str:code>/fix-policy/changes/<int:change_id>/confirm/", PolicyChangeConfirmView.as_view(),
         name="api-fix-policy-change-confirm"),
]

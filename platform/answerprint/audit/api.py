"""REST API of the audit log, for compliance tools: events, status, verification, exports."""
import base64

from django.db import connection
from django.urls import path, reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from answerprint.api import ProductionScopedView, page_parameters, paginated

from . import disclosure, services
from .exports import FORMATS, signature_text
from .forms import ExportFilterForm, ExportForm, ReasonForm
from .models import AuditEvent, Checkpoint, StoredExport
from .protection import missing_protections
from .selectors import latest_checkpoint, timestamp_of
from .signing import key_id, public_key_hex
from .views import disclosure_response, export_response, stored_export_response

FILTERS = [
    OpenApiParameter("shot", OpenApiTypes.STR, description="shot name"),
    OpenApiParameter("actor", OpenApiTypes.STR, description="username"),
    OpenApiParameter("action", OpenApiTypes.STR, description="an action, or a prefix ending in '.' or '*'"),
    OpenApiParameter("since", OpenApiTypes.DATETIME, description="from this time"),
    OpenApiParameter("until", OpenApiTypes.DATETIME, description="before this time"),
]


class AuditEventSerializer(serializers.ModelSerializer):
    signature = serializers.SerializerMethodField()

    class Meta:
        model = AuditEvent
        fields = ["sequence", "occurred_at", "actor_id", "actor_name", "actor_role", "action", "target_type",
                  "target_id", "target_repr", "before", "after", "reason", "request_id", "ip", "user_agent",
                  "prev_hash", "hash", "signature"]

    def get_signature(self, event) -> str:
        return signature_text(event.after)


class CheckpointSerializer(serializers.ModelSerializer):
    timestamp_token = serializers.SerializerMethodField(help_text="RFC 3161 token over the signature, base64 DER")

    class Meta:
        model = Checkpoint
        fields = ["number", "first_sequence", "last_sequence", "leaf_count", "root", "previous_root",
                  "last_event_hash", "created_at", "payload", "signature", "public_key", "key_id", "timestamp_token"]

    @extend_schema_field(OpenApiTypes.STR)
    def get_timestamp_token(self, checkpoint):
        token = checkpoint.timestamp_token
        return base64.b64encode(bytes(token)).decode("ascii") if token else None


def _form(view, request):
    form = ExportFilterForm(request.query_params, production=view.production)
    if not form.is_valid():
        raise ValidationError(form.errors)
    return form


class AuditEventListView(ProductionScopedView, APIView):
    @extend_schema(parameters=FILTERS + page_parameters(), responses=paginated(AuditEventSerializer))
    def get(self, request, code):
        self.require("view_audit")
        services.seal_pending()  # so every listed event has its number and hash
        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(_form(self, request).events().order_by("-sequence"), request, view=self)
        return paginator.get_paginated_response(AuditEventSerializer(page, many=True).data)


class ExportInputSerializer(serializers.Serializer):
    shot = serializers.CharField(required=False, help_text="shot name")
    actor = serializers.CharField(required=False, help_text="username of a member of this production")
    action = serializers.CharField(required=False, help_text="an action, or a prefix ending in '.' or '*'")
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)
    reason = serializers.CharField(max_length=500, help_text="why the log is exported; kept with the export")


class AuditExportView(ProductionScopedView, APIView):
    @extend_schema(request=ExportInputSerializer, responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
                   description="Export the production's events (jsonl, csv or pdf), ending with a signed manifest. "
                               "A POST with the reason typed by the person who exports.")
    def post(self, request, code, fmt):
        self.require("view_audit")
        if fmt not in FORMATS:
            raise NotFound(f"Unknown format {fmt!r}; choose one of {', '.join(FORMATS)}.")
        form = ExportForm(request.data, production=self.production)
        if not form.is_valid():
            raise ValidationError(form.errors)
        return export_response(actor=request.user, production=self.production, form=form, fmt=fmt,
                               reason=form.cleaned_data["reason"])


class DisclosureInputSerializer(serializers.Serializer):
    delivery = serializers.IntegerField(required=False, help_text="a delivery version's id")
    reason = serializers.CharField(max_length=500, help_text="why the report is taken; kept with it")


class DisclosureExportView(ProductionScopedView, APIView):
    @extend_schema(request=DisclosureInputSerializer, responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
                   description="The AI-disclosure report; a POST with the reason typed by the person who takes it.")
    def post(self, request, code, fmt):
        self.require("view_audit")
        if fmt not in disclosure.FORMATS:
            raise NotFound(f"Unknown format {fmt!r}; choose one of {', '.join(disclosure.FORMATS)}.")
        form = ReasonForm(request.data)
        if not form.is_valid():
            raise ValidationError(form.errors)
        return disclosure_response(actor=request.user, production=self.production, fmt=fmt,
                                   delivery_id=str(request.data.get("delivery", "") or ""),
                                   reason=form.cleaned_data["reason"])


class StoredExportSerializer(serializers.ModelSerializer):
    download = serializers.SerializerMethodField()

    class Meta:
        model = StoredExport
        fields = ["id", "report", "schedule", "file_name", "sha256", "size_bytes", "period_start", "period_end",
                  "manifest", "generated_by", "created_at", "download"]

    def get_download(self, export) -> str:
        return reverse("api-audit-stored-export", args=[export.production.code, export.pk])


class StoredExportListView(ProductionScopedView, APIView):
    @extend_schema(parameters=page_parameters(), responses=paginated(StoredExportSerializer))
    def get(self, request, code):
        self.require("view_audit")
        paginator = LimitOffsetPagination()
        exports = StoredExport.objects.filter(production=self.production).select_related("production")
        page = paginator.paginate_queryset(exports, request, view=self)
        return paginator.get_paginated_response(StoredExportSerializer(page, many=True).data)


class StoredExportDownloadView(ProductionScopedView, APIView):
    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(self, request, code, export_id):
        self.require("view_audit")
        export = StoredExport.objects.filter(production=self.production, pk=export_id).first()
        if export is None:
            raise NotFound("No such stored export.")
        return stored_export_response(actor=request.user, export=export,
                                      reason=request.query_params.get("reason", "")[:500])


def _timestamp_view(checkpoint):
    stamp = timestamp_of(checkpoint)
    return {"tsa": stamp[0], "time": stamp[1].isoformat()} if stamp else None


class AuditStatusView(ProductionScopedView, APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, code):
        self.require("view_audit")
        services.seal_pending()
        checkpoint = latest_checkpoint()
        # This production's own latest event: the chain's global head would tell a member how
        # busy every other production on the system is.
        last = (AuditEvent.objects.filter(production=self.production, hash__isnull=False).order_by("-sequence")
                .values("sequence", "hash").first())
        public_key = public_key_hex()
        return Response({
            "last_sequence": last["sequence"] if last else 0,
            "last_hash": last["hash"] if last else "",
            "latest_checkpoint": {
                "number": checkpoint.number, "created_at": checkpoint.created_at, "root": checkpoint.root,
                "key_id": checkpoint.key_id, "covers_last_event": bool(last) and checkpoint.last_sequence >= last["sequence"],
            } if checkpoint else None,
            "latest_checkpoint_timestamp": _timestamp_view(checkpoint),
            "public_key": public_key, "key_id": key_id(public_key),
            "missing_protections": missing_protections(connection),
        })


class AuditVerifyView(ProductionScopedView, APIView):
    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def post(self, request, code):
        self.require("view_audit")
        report, missing = services.verify_audit_log(actor=request.user, production=self.production)
        return Response({
            "ok": report.ok and not missing, "events_checked": report.events_checked,
            "checkpoints_checked": report.checkpoints_checked, "broken_sequence": report.broken_sequence,
            "broken_checkpoint": report.broken_checkpoint, "problems": report.problems,
            "uncovered_from": report.uncovered_from, "missing_protections": missing,
        })


class CheckpointListView(ProductionScopedView, APIView):
    @extend_schema(parameters=page_parameters(), responses=paginated(CheckpointSerializer))
    def get(self, request, code):
        self.require("view_audit")
        services.seal_pending()  # so every listed event has its number and hash
        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(Checkpoint.objects.order_by("-number"), request, view=self)
        return paginator.get_paginated_response(CheckpointSerializer(page, many=True).data)

    @extend_schema(request=None, responses={201: CheckpointSerializer, 200: None})
    def post(self, request, code):
        self.require("view_audit")
        try:
            checkpoint = services.create_checkpoint(actor=request.user, reason=str(request.data.get("reason", ""))[:500])
        except services.ChainBroken as exc:
            return Response({"detail": f"Not signed: the chain does not verify ({exc})."},
                            status=status.HTTP_409_CONFLICT)
        if checkpoint is None:
            return Response({"detail": "Every event is in a signed checkpoint already."})
        return Response(CheckpointSerializer(checkpoint).data, status=status.HTTP_201_CREATED)


urlpatterns = [
    path("productions/<str:code>/audit/events/", AuditEventListView.as_view(), name="api-audit-events"),
    path("productions/<str:code>/audit/export.<str:fmt>", AuditExportView.as_view(), name="api-audit-export"),
    path("productions/<str:code>/audit/disclosure.<str:fmt>", DisclosureExportView.as_view(),
         name="api-audit-disclosure"),
    path("productions/<str:code>/audit/stored-exports/", StoredExportListView.as_view(),
         name="api-audit-stored-exports"),
    path("productions/<str:code>/audit/stored-exports/<int:export_id>/download", StoredExportDownloadView.as_view(),
         name="api-audit-stored-export"),
    path("productions/<str:code>/audit/status/", AuditStatusView.as_view(), name="api-audit-status"),
    path("productions/<str:code>/audit/verify/", AuditVerifyView.as_view(), name="api-audit-verify"),
    path("productions/<str:code>/audit/checkpoints/", CheckpointListView.as_view(), name="api-audit-checkpoints"),
]

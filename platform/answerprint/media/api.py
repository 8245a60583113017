from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from answerprint.accounts.permissions import require
from answerprint.accounts.selectors import membership_for
from answerprint.api import ProductionScopedView

from . import services
from .selectors import (asset_for_user, shot_by_name, shots_with_latest_version, timeline_of, timelines_of,
                        version_for_user, versions_of)
from .serializers import (MediaAssetSerializer, RegisterSerializer, ShotSerializer, ShotUpdateSerializer,
                          TimelineImportSerializer, TimelineSerializer, UploadSerializer, VersionSerializer)
from .timeline_import import import_timeline
from .uploads import upload_refusal


class ShotListView(ProductionScopedView, APIView):
    @extend_schema(responses=ShotSerializer(many=True))
    def get(self, request, code):
        return Response(ShotSerializer(shots_with_latest_version(self.production), many=True).data)

    @extend_schema(request=ShotSerializer, responses=ShotSerializer)
    def post(self, request, code):
        self.require("ingest")
        serializer = ShotSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        data.pop("status", None)
        shot = services.create_shot(actor=request.user, production=self.production, **data)
        return Response(ShotSerializer(shot).data, status=status.HTTP_201_CREATED)


class ShotDetailView(ProductionScopedView, APIView):
    @extend_schema(responses=ShotSerializer)
    def get(self, request, code, name):
        shot = shots_with_latest_version(self.production).filter(name=name).first() or shot_by_name(
            self.production, name)
        return Response(ShotSerializer(shot).data)

    @extend_schema(request=ShotUpdateSerializer, responses=ShotSerializer)
    def patch(self, request, code, name):
        self.require("ingest")
        shot = shot_by_name(self.production, name)
        serializer = ShotUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        reason = changes.pop("reason", "")
        shot = services.update_shot(actor=request.user, shot=shot, reason=reason, **changes)
        return Response(ShotSerializer(shot).data)


class VersionListView(ProductionScopedView, APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(responses=VersionSerializer(many=True))
    def get(self, request, code, name):
        shot = shot_by_name(self.production, name)
        return Response(VersionSerializer(versions_of(shot), many=True).data)

    @extend_schema(request={"multipart/form-data": UploadSerializer}, responses=VersionSerializer,
                   description="Upload a new version of the shot. The file streams to storage; ingest runs "
                               "in the background (watch the asset's status and progress).")
    def post(self, request, code, name):
        self.require("ingest")
        shot = shot_by_name(self.production, name)
        refusal = upload_refusal(request, actor=request.user, production=self.production)
        if refusal:
            return Response({"file": [refusal]}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
        serializer = UploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        version = services.ingest_upload(actor=request.user, shot=shot, uploaded_file=serializer.validated_data["file"],
                                         note=serializer.validated_data["note"])
        return Response(VersionSerializer(version).data, status=status.HTTP_201_CREATED)


class RegisterView(ProductionScopedView, APIView):
    parser_classes = [JSONParser, FormParser]

    @extend_schema(request=RegisterSerializer, responses=VersionSerializer,
                   description="Register a file (or an image sequence pattern) already on media storage.")
    def post(self, request, code, name):
        self.require("ingest")
        shot = shot_by_name(self.production, name)
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        version = services.register_media(actor=request.user, shot=shot, **serializer.validated_data)
        return Response(VersionSerializer(version).data, status=status.HTTP_201_CREATED)


class TimelineListView(ProductionScopedView, APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(responses=TimelineSerializer(many=True))
    def get(self, request, code):
        return Response(TimelineSerializer(timelines_of(self.production), many=True).data)

    @extend_schema(request={"multipart/form-data": TimelineImportSerializer}, responses=TimelineSerializer,
                   description="Import a CMX3600 EDL, OpenTimelineIO, AAF or FCPXML timeline. The reply is the "
                               "stored import: its report has one entry per event (shot made, updated, "
                               "unchanged, or skipped with the reason).")
    def post(self, request, code):
        self.require("ingest")
        serializer = TimelineImportSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        options = dict(serializer.validated_data)
        timeline = import_timeline(actor=request.user, production=self.production,
                                   uploaded_file=options.pop("file"), **options)
        return Response(TimelineSerializer(timeline).data, status=status.HTTP_201_CREATED)


class TimelineDetailView(ProductionScopedView, APIView):
    @extend_schema(responses=TimelineSerializer)
    def get(self, request, code, timeline_id):
        return Response(TimelineSerializer(timeline_of(self.production, timeline_id)).data)


class VersionDetailView(APIView):
    @extend_schema(responses=VersionSerializer)
    def get(self, request, version_id):
        return Response(VersionSerializer(version_for_user(request.user, version_id)).data)


class AssetRetryView(APIView):
    @extend_schema(request=None, responses=MediaAssetSerializer)
    def post(self, request, asset_id):
        asset = asset_for_user(request.user, asset_id)
        require(membership_for(request.user, asset.version.shot.production), "ingest")
        asset = services.retry_ingest(actor=request.user, asset=asset)
        return Response(MediaAssetSerializer(asset).data, status=status.HTTP_202_ACCEPTED)


urlpatterns = [
    path("productions/<str:code>/shots/", ShotListView.as_view(), name="api-shot-list"),
    path("productions/<str:code>/shots/<str:name>/", ShotDetailView.as_view(), name="api-shot-detail"),
    path("productions/<str:code>/shots/<str:name>/versions/", VersionListView.as_view(), name="api-version-list"),
    path("productions/<str:code>/shots/<str:name>/register/", RegisterView.as_view(), name="api-register"),
    path("productions/<str:code>/timelines/", TimelineListView.as_view(), name="api-timeline-list"),
    path("productions/<str:code>/timelines/<int:timeline_id>/", TimelineDetailView.as_view(),
         name="api-timeline-detail"),
    path("versions/<int:version_id>/", VersionDetailView.as_view(), name="api-version-detail"),
    path("assets/<int:asset_id>/retry/", AssetRetryView.as_view(), name="api-asset-retry"),
]

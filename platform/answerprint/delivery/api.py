"""REST API of deliveries: packages and their files (downloads are audited), and review notes
exported as markers for editing systems."""
import uuid

from django.http import Http404, HttpResponse
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.views import APIView
from rest_framework.response import Response

from answerprint.api import ProductionScopedView
from answerprint.media.serving import media_response
from answerprint.review.models import ReviewSession

from . import services
from .models import DeliveryPackage, PackageState
from .notes import FORMATS
from .selectors import notes_cut, package_for


class DeliveryPackageSerializer(serializers.ModelSerializer):
    shot = serializers.CharField(source="version.shot.name")
    version = serializers.IntegerField(source="version.number")

    class Meta:
        model = DeliveryPackage
        fields = ["id", "shot", "version", "state", "status_reason", "frame_in", "frame_out", "start_timecode",
                  "reel_name", "media_name", "is_sequence", "codec", "profile", "manifest_sha256", "credentials",
                  "files", "created_at", "finished_at"]


class DeliveryPackageListView(ProductionScopedView, APIView):
    @extend_schema(responses=DeliveryPackageSerializer(many=True))
    def get(self, request, code):
        self.require("view")
        packages = DeliveryPackage.objects.filter(production=self.production).select_related("version__shot")
        return Response(DeliveryPackageSerializer(packages, many=True).data)


class DeliveryFileView(ProductionScopedView, APIView):
    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(self, request, code, package_id, file_path):
        self.require("download_original")
        package = package_for(self.production, package_id)
        # Only the files the manifest lists: a client's path never reaches storage unchecked.
        if package.state != PackageState.READY or file_path not in {f["path"] for f in package.files}:
            raise Http404("No such file in this delivery package.")
        services.record_package_download(actor=request.user, package=package, path=file_path)
        return media_response(request, f"{package.folder}/{file_path}", production=self.production,
                              download_name=file_path.rsplit("/", 1)[-1])


class NotesExportView(ProductionScopedView, APIView):
    @extend_schema(parameters=[
        OpenApiParameter("shot", OpenApiTypes.STR, description="one shot, by name"),
        OpenApiParameter("session", OpenApiTypes.UUID, description="one playlist (review session)"),
    ], responses={(200, "text/plain"): OpenApiTypes.STR})
    def get(self, request, code, fmt):
        self.require("view")
        if fmt not in FORMATS:
            raise Http404(f"Export formats: {', '.join(FORMATS)}.")
        shot_name, session_id = request.query_params.get("shot", ""), request.query_params.get("session", "")
        session = None
        if session_id:
            try:
                session = ReviewSession.objects.get(pk=uuid.UUID(session_id), production=self.production)
            except (ValueError, ReviewSession.DoesNotExist):
                raise Http404("No such playlist in this production.") from None
        cut = notes_cut(self.production, shot_name=shot_name, session=session)
        writer, extension, content_type = FORMATS[fmt]
        body = writer(cut)
        scope = f"shot {shot_name}" if shot_name else f"playlist {session.title}" if session else "production"
        services.record_notes_export(actor=request.user, production=self.production, fmt=fmt, scope=scope,
                                     markers=sum(1 for _ in cut.markers()))
        name = "_".join(filter(None, [self.production.code, shot_name, "notes" if fmt != "conform-otio" else "conform"]))
        response = HttpResponse(body, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{name}.{extension}"'
        return response


urlpatterns = [
    path("productions/<str:code>/deliveries/", DeliveryPackageListView.as_view(), name="api-deliveries"),
    path("productions/<str:code>/deliveries/<int:package_id>/files/<path:file_path>", DeliveryFileView.as_view(),
         name="api-delivery-file"),
    path("productions/<str:code>/notes/export.<str:fmt>", NotesExportView.as_view(), name="api-notes-export"),
]

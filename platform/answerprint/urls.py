from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from answerprint.bodylimit import upload_gate

urlpatterns = [
    path("admin/", admin.site.urls),
    path("upload-gate/", upload_gate, name="upload-gate"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/", include("answerprint.accounts.api")),
    path("api/", include("answerprint.media.api")),
    path("api/", include("answerprint.review.api")),
    path("api/", include("answerprint.audit.api")),
    path("api/", include("answerprint.fixes.api")),
    path("api/", include("answerprint.delivery.api")),
    path("", include("answerprint.audit.urls")),
    path("", include("answerprint.fixes.urls")),
    path("", include("answerprint.delivery.urls")),
    path("", include("answerprint.accounts.urls")),
    path("", include("answerprint.media.urls")),
    path("", include("answerprint.review.urls")),
]

from django.urls import path

from . import views

urlpatterns = [
    path("p/<str:code>/", views.production_page, name="production-page"),
    path("p/<str:code>/grid/", views.shot_grid, name="shot-grid"),
    path("p/<str:code>/upload/", views.upload_version, name="upload-version"),
    path("p/<str:code>/timeline/", views.import_timeline, name="import-timeline"),
    path("p/<str:code>/timelines/<int:timeline_id>/", views.timeline_page, name="timeline-page"),
    path("p/<str:code>/assets/<int:asset_id>/retry/", views.retry_asset, name="retry-asset"),
    path("p/<str:code>/shots/<str:name>/", views.shot_page, name="shot-page"),
    path("m/<int:asset_id>/<str:part>", views.media_file, name="media-file"),
]

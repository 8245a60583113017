from django.urls import path

from . import views

urlpatterns = [
    path("p/<str:code>/audit/", views.audit_page, name="audit-page"),
    path("p/<str:code>/audit/export.<str:fmt>", views.audit_export, name="audit-export"),
    path("p/<str:code>/audit/disclosure.<str:fmt>", views.disclosure_export, name="audit-disclosure"),
    path("p/<str:code>/audit/schedules/", views.schedule_create, name="audit-schedule-create"),
    path("p/<str:code>/audit/schedules/<int:schedule_id>/stop/", views.schedule_stop, name="audit-schedule-stop"),
    path("p/<str:code>/audit/stored/<int:export_id>/", views.stored_export_download, name="audit-stored-export"),
    path("p/<str:code>/audit/verify/", views.audit_verify, name="audit-verify"),
    path("p/<str:code>/audit/checkpoint/", views.audit_checkpoint, name="audit-checkpoint"),
]

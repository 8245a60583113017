from django.urls import path

from . import views

urlpatterns = [
    path("p/<str:code>/audit/", views.audit_page, name="audit-page"),
    path("p/<str:code>/audit/export.<str:fmt>", views.audit_export, name="audit-export"),
    path("p/<str:code>/audit/disclosure.<str:fmt>", views.disclosure_export, name="audit-disclosure"),
    path("p/<str:code>/audit/verify/", views.audit_verify, name="audit-verify"),
    path("p/<str:code>/audit/checkpoint/", views.audit_checkpoint, name="audit-checkpoint"),
]

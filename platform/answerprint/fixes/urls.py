from django.urls import path

from . import views

urlpatterns = [
    path("p/<str:code>/fixes/", views.request_list, name="fix-list"),
    path("p/<str:code>/fixes/new/", views.request_new, name="fix-new"),
    path("p/<str:code>/fixes/<int:request_id>/", views.request_detail, name="fix-detail"),
    path("p/<str:code>/fixes/<int:request_id>/matte/<int:frame>.png", views.request_matte, name="fix-matte"),
    path("p/<str:code>/fixes/<int:request_id>/cancel/", views.request_cancel, name="fix-cancel"),
    path("p/<str:code>/fixes/<int:request_id>/retry/", views.request_retry, name="fix-retry"),
    path("p/<str:code>/proposals/<int:proposal_id>/decide/", views.proposal_decide, name="fix-proposal-decide"),
    path("p/<str:code>/proposals/<int:proposal_id>/promote/", views.proposal_promote, name="fix-proposal-promote"),
    path("p/<str:code>/proposals/<int:proposal_id>/preview", views.proposal_preview, name="fix-proposal-preview"),
    path("p/<str:code>/approvals/", views.approvals, name="fix-approvals"),
    path("p/<str:code>/consents/", views.consents, name="fix-consents"),
    path("p/<str:code>/consents/<int:consent_id>/revoke/", views.consent_revoke, name="fix-consent-revoke"),
]

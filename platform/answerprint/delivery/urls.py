from django.urls import path

from . import views

urlpatterns = [
    path("p/<str:code>/deliveries/", views.deliveries, name="deliveries"),
    path("p/<str:code>/webhooks/", views.webhook_list, name="webhooks"),
    path("p/<str:code>/webhooks/<int:endpoint_id>/<str:action>/", views.webhook_action, name="webhook-action"),
]

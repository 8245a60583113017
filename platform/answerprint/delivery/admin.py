"""Admin views of deliveries and webhooks. Read-only, like the fix workflow's: every change goes
through a service that audits it. Webhook secrets are never shown."""
from django.contrib import admin

from answerprint.fixes.admin import ReadOnlyAdmin

from .models import DeliveryPackage, WebhookDelivery, WebhookEndpoint


@admin.register(DeliveryPackage)
class DeliveryPackageAdmin(ReadOnlyAdmin):
    list_display = ["version", "production", "state", "codec", "profile", "frame_in", "frame_out", "finished_at"]
    list_filter = ["production", "state", "codec"]
    search_fields = ["manifest_sha256", "media_name"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnlyAdmin):
    list_display = ["url", "production", "active", "created_by", "created_at"]
    list_filter = ["production", "active"]
    exclude = ["secret"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["event", "endpoint", "state", "attempts", "response_code", "next_attempt_at", "created_at"]
    list_filter = ["state", "event"]

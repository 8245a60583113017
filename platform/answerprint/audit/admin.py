from django.contrib import admin

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the audit log is append-only, in the admin as in the database."""

    list_display = ("sequence", "occurred_at", "action", "actor_name", "actor_role", "target_repr", "production")
    list_filter = ("action", "production")
    search_fields = ("action", "actor_name", "target_repr", "reason", "request_id")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

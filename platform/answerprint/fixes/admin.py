"""Admin views of the fix workflow. Read-only: every change goes through a service (which audits
it), so the admin can look but not write behind the log's back. The consent registry's own page
(/p/<code>/consents/) is where compliance staff record and revoke consents."""
from django.contrib import admin

from .models import Consent, Decision, FixPolicy, FixRequest, Job, Proposal


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Consent)
class ConsentAdmin(ReadOnlyAdmin):
    list_display = ["performer", "production", "consent_type", "guild", "signed_at", "expires_at", "revoked_at"]
    list_filter = ["production", "consent_type", "guild"]
    search_fields = ["performer", "signed_by", "document_sha256"]
    filter_horizontal = ["shots"]


@admin.register(FixPolicy)
class FixPolicyAdmin(ReadOnlyAdmin):
    list_display = ["production", "approver_roles", "required_approvals", "recommender_roles",
                    "required_recommendations", "requester_may_approve", "updated_at"]


class JobInline(admin.TabularInline):
    model = Job
    extra = 0
    fields = ["state", "progress", "stage", "deliveries", "worker", "device", "queued_at", "finished_at", "error"]
    readonly_fields = fields
    can_delete = False


@admin.register(FixRequest)
class FixRequestAdmin(ReadOnlyAdmin):
    list_display = ["pk", "production", "shot", "kind", "state", "requested_by", "created_at"]
    list_filter = ["production", "kind", "state"]
    search_fields = ["shot__name", "reason", "performer"]
    inlines = [JobInline]


class DecisionInline(admin.TabularInline):
    model = Decision
    extra = 0
    fields = ["outcome", "meaning", "counts_as", "final", "printed_name", "role", "signed_at", "record_hash",
              "signature_hash", "reason"]
    readonly_fields = fields
    can_delete = False


@admin.register(Proposal)
class ProposalAdmin(ReadOnlyAdmin):
    list_display = ["pk", "request", "version", "state", "media_sha256", "created_at"]
    list_filter = ["state"]
    inlines = [DecisionInline]


@admin.register(Job)
class JobAdmin(ReadOnlyAdmin):
    list_display = ["pk", "request", "state", "progress", "deliveries", "worker", "queued_at", "finished_at"]
    list_filter = ["state"]

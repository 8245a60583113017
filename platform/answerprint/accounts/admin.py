from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.contrib.auth.admin import UserAdmin

from . import mfa
from .forms import AdminLoginForm
from .models import Membership, Production, User

# The admin log-in counts wrong passwords and honours lock-outs like the log-in page.
admin.site.login_form = AdminLoginForm


@admin.register(User)
class AnswerprintUserAdmin(UserAdmin):
    fieldsets = UserAdmin.fieldsets + (("Signature", {"fields": ("full_name",)}),)
    list_display = ("username", "full_name", "email", "is_staff", "is_active")
    actions = ["remove_second_factor"]

    @admin.action(description="Remove the authenticator (lost phone and recovery codes)")
    def remove_second_factor(self, request, queryset):
        reason = request.POST.get("reason", "") or f"Removed in the admin by {request.user.get_username()}"
        for user in queryset:
            try:
                mfa.remove_second_factor_for(actor=request.user, user=user, reason=reason)
            except ValidationError as error:
                self.message_user(request, f"{user}: {' '.join(error.messages)}", level=messages.WARNING)
            else:
                self.message_user(request, f"{user} must set up a new authenticator before signing again.")


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ("user",)
    # Membership changes go through the services (audited); the admin shows them.
    readonly_fields = ("user", "role", "expires_at", "revoked_at", "created_at")
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Production)
class ProductionAdmin(admin.ModelAdmin):
    list_display = ("code", "title", "fps_num", "fps_den", "created_at", "archived_at")
    search_fields = ("code", "title")
    inlines = [MembershipInline]
    readonly_fields = ("code", "title", "description", "fps_num", "fps_den", "created_at", "archived_at")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from .forms import AdminLoginForm
from .models import Membership, Production, User

# The admin log-in counts wrong passwords and honours lock-outs like the log-in page.
admin.site.login_form = AdminLoginForm


@admin.register(User)
class AnswerprintUserAdmin(UserAdmin):
    fieldsets = UserAdmin.fieldsets + (("Signature", {"fields": ("full_name",)}),)
    list_display = ("username", "full_name", "email", "is_staff", "is_active")


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

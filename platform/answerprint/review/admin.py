from django.contrib import admin

from .models import Annotation, Comment, CommentRevision, ReviewSession, Room, RoomEvent


class ReadOnlyAdmin(admin.ModelAdmin):
    """Review records change only through the services, which audit and number every change;
    an edit here would bypass both."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Annotation)
class AnnotationAdmin(ReadOnlyAdmin):
    list_display = ("id", "version", "frame", "duration", "shape", "author", "created_at", "deleted_at")
    list_filter = ("shape",)
    raw_id_fields = ("version", "author", "deleted_by")


class CommentRevisionInline(admin.TabularInline):
    model = CommentRevision
    extra = 0
    readonly_fields = ("revision", "body", "written_at", "replaced_at", "replaced_by", "reason")

    def has_add_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Comment)
class CommentAdmin(ReadOnlyAdmin):
    list_display = ("id", "version", "frame", "author", "resolved_at", "deleted_at", "created_at")
    search_fields = ("body",)
    raw_id_fields = ("version", "parent", "author", "resolved_by", "deleted_by")
    inlines = [CommentRevisionInline]


@admin.register(ReviewSession)
class ReviewSessionAdmin(ReadOnlyAdmin):
    list_display = ("title", "production", "created_by", "created_at", "closed_at")


@admin.register(Room)
class RoomAdmin(ReadOnlyAdmin):
    list_display = ("key", "kind", "production", "last_sequence", "presenter")


@admin.register(RoomEvent)
class RoomEventAdmin(ReadOnlyAdmin):
    list_display = ("room", "sequence", "type", "author_name", "op", "created_at")
    list_filter = ("type",)

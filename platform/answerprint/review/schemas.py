"""What goes over the wire: the shapes of annotations, comments and sessions (REST and room
events alike) and the schema of every message a client may send to a room.

Input schemas check structure and ranges; the services check the rules that need the database
(the frame exists in the shot, the parent comment is on the same version, ...).
"""
import re

from rest_framework import serializers

from .models import Annotation, Comment, CommentRevision, ReviewSession, RoomEvent, ShapeKind
from .shapes import MAX_POINTS, MAX_TEXT

MAX_BODY = 10_000
MAX_REASON = 2_000
OP_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
COMPARE_MODES = ("off", "wipe", "side_by_side", "difference", "ab", "overlay")


# ---------------------------------------------------------------- representations


class UserRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.CharField(source="printed_name")


class AnnotationSerializer(serializers.ModelSerializer):
    author = UserRefSerializer(read_only=True)
    points = serializers.ListField(
        child=serializers.ListField(child=serializers.FloatField(), min_length=3, max_length=3),
        help_text="[[x, y, pressure], ...], each 0..1, x from the left, y from the top of the picture.",
    )
    deleted = serializers.SerializerMethodField()

    class Meta:
        model = Annotation
        fields = ["id", "version", "author", "frame", "duration", "shape", "points", "color", "width", "text",
                  "revision", "created_at", "updated_at", "deleted"]
        read_only_fields = fields

    def get_deleted(self, annotation) -> bool:
        return annotation.deleted_at is not None


class CommentSerializer(serializers.ModelSerializer):
    """A comment. A deleted comment keeps its place in the thread with an empty body; its text
    stays in the revisions, which the author and compliance can read."""

    author = UserRefSerializer(read_only=True)
    mentions = UserRefSerializer(many=True, read_only=True)
    resolved_by = UserRefSerializer(read_only=True, allow_null=True)
    resolved = serializers.SerializerMethodField()
    deleted = serializers.SerializerMethodField()
    body = serializers.SerializerMethodField()

    class Meta:
        model = Comment
        fields = ["id", "version", "parent", "author", "frame", "duration", "body", "mentions", "resolved",
                  "resolved_at", "resolved_by", "revision", "edited_at", "deleted", "created_at"]
        read_only_fields = fields

    def get_resolved(self, comment) -> bool:
        return comment.resolved_at is not None

    def get_deleted(self, comment) -> bool:
        return comment.deleted_at is not None

    def get_body(self, comment) -> str:
        return "" if comment.deleted_at is not None else comment.body


class CommentThreadSerializer(CommentSerializer):
    replies = CommentSerializer(many=True, read_only=True, source="thread_replies")

    class Meta(CommentSerializer.Meta):
        fields = CommentSerializer.Meta.fields + ["replies"]
        read_only_fields = fields


class CommentRevisionSerializer(serializers.ModelSerializer):
    replaced_by = UserRefSerializer(read_only=True)

    class Meta:
        model = CommentRevision
        fields = ["revision", "body", "written_at", "replaced_at", "replaced_by", "reason"]
        read_only_fields = fields


class PlaylistEntrySerializer(serializers.Serializer):
    position = serializers.IntegerField()
    version = serializers.IntegerField(source="version_id")
    shot = serializers.CharField(source="version.shot.name")
    number = serializers.IntegerField(source="version.number")
    kind = serializers.CharField(source="version.kind")


class ReviewSessionSerializer(serializers.ModelSerializer):
    created_by = UserRefSerializer(read_only=True)
    playlist = PlaylistEntrySerializer(many=True, read_only=True, source="items")
    room = serializers.SerializerMethodField()

    class Meta:
        model = ReviewSession
        fields = ["id", "production", "title", "created_by", "created_at", "closed_at", "playlist", "room"]
        read_only_fields = fields

    def get_room(self, session) -> str:
        return f"/ws/review/sessions/{session.pk}/"


class RoomEventSerializer(serializers.ModelSerializer):
    seq = serializers.IntegerField(source="sequence")
    event = serializers.CharField(source="type")
    data = serializers.JSONField(source="payload")
    by = serializers.SerializerMethodField()
    at = serializers.DateTimeField(source="created_at")

    class Meta:
        model = RoomEvent
        fields = ["seq", "event", "data", "by", "at", "op"]
        read_only_fields = fields

    def get_by(self, event) -> dict | None:
        return {"id": event.author_id, "name": event.author_name} if event.author_id else None


# ---------------------------------------------------------------- inputs (REST and room)


def _unit_float(**kwargs):
    return serializers.FloatField(min_value=0.0, max_value=1.0, **kwargs)


class OpField(serializers.CharField):
    """The client's idempotency key for one operation: the same key from the same person in the
    same room is applied once, and a retry is answered with the first result."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 64)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not OP_PATTERN.match(value):
            raise serializers.ValidationError("Use 1-64 letters, digits, '.', '_', ':' or '-'.")
        return value


class AnnotationInputSerializer(serializers.Serializer):
    id = serializers.UUIDField(required=False, help_text="Made by the client; made by the server when absent.")
    version = serializers.IntegerField(
        required=False, help_text="In a session room: which version of the playlist. Elsewhere ignored."
    )
    frame = serializers.IntegerField(min_value=0, help_text="0 is the shot's first frame.")
    duration = serializers.IntegerField(min_value=1, default=1, help_text="Frames the shape stays on screen.")
    shape = serializers.ChoiceField(choices=ShapeKind.choices)
    points = serializers.ListField(
        child=serializers.ListField(child=_unit_float(), min_length=2, max_length=3),
        min_length=1, max_length=MAX_POINTS, help_text="[[x, y, pressure], ...] each 0..1 from the top-left.",
    )
    color = serializers.RegexField(r"^#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$", default="#ff3b30")
    width = serializers.FloatField(min_value=0.0001, max_value=0.5, default=0.004,
                                   help_text="Stroke width (text height for text) as a fraction of frame height.")
    text = serializers.CharField(max_length=MAX_TEXT, required=False, allow_blank=True, default="")


class AnnotationChangesSerializer(serializers.Serializer):
    frame = serializers.IntegerField(min_value=0, required=False)
    duration = serializers.IntegerField(min_value=1, required=False)
    points = serializers.ListField(
        child=serializers.ListField(child=_unit_float(), min_length=2, max_length=3),
        min_length=1, max_length=MAX_POINTS, required=False,
    )
    color = serializers.RegexField(r"^#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$", required=False)
    width = serializers.FloatField(min_value=0.0001, max_value=0.5, required=False)
    text = serializers.CharField(max_length=MAX_TEXT, required=False, allow_blank=True)
    reason = serializers.CharField(max_length=MAX_REASON, required=False, allow_blank=True, default="")

    def validate(self, attrs):
        if not set(attrs) - {"reason"}:
            raise serializers.ValidationError("Name at least one thing to change.")
        return attrs


class CommentInputSerializer(serializers.Serializer):
    id = serializers.UUIDField(required=False)
    version = serializers.IntegerField(required=False, help_text="In a session room: which version.")
    parent = serializers.UUIDField(required=False, allow_null=True, help_text="The comment this replies to.")
    frame = serializers.IntegerField(min_value=0, required=False, allow_null=True,
                                     help_text="0 is the shot's first frame; empty for the whole version.")
    duration = serializers.IntegerField(min_value=1, default=1)
    body = serializers.CharField(max_length=MAX_BODY, help_text="Text; @username mentions a member.")


class CommentEditSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=MAX_BODY)
    reason = serializers.CharField(max_length=MAX_REASON, required=False, allow_blank=True, default="")


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=MAX_REASON, required=False, allow_blank=True, default="")


class ReviewSessionInputSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    versions = serializers.ListField(child=serializers.IntegerField(min_value=1), max_length=500,
                                     help_text="Version ids in playlist order.")


class ReviewSessionChangesSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200, required=False)
    versions = serializers.ListField(child=serializers.IntegerField(min_value=1), max_length=500, required=False)
    reason = serializers.CharField(max_length=MAX_REASON, required=False, allow_blank=True, default="")


# ---------------------------------------------------------------- room messages


class HelloMessage(serializers.Serializer):
    since = serializers.IntegerField(min_value=0, required=False, allow_null=True, default=None,
                                     help_text="The last sequence number this client saw; empty for a full state.")
    presence_batches = serializers.BooleanField(
        default=False, help_text="This client takes presence changes bundled as presence.batch frames.")


class SyncMessage(serializers.Serializer):
    since = serializers.IntegerField(min_value=0)


class EmptyMessage(serializers.Serializer):
    pass


class PresenceMessage(serializers.Serializer):
    frame = serializers.IntegerField(min_value=0, required=False, allow_null=True)
    version = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    following = serializers.BooleanField(required=False)


class PointerMessage(serializers.Serializer):
    x = _unit_float()
    y = _unit_float()
    frame = serializers.IntegerField(min_value=0)
    version = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    visible = serializers.BooleanField(default=True)


class AnnotationCreateMessage(serializers.Serializer):
    op = OpField()
    annotation = AnnotationInputSerializer()


class AnnotationUpdateMessage(serializers.Serializer):
    op = OpField()
    id = serializers.UUIDField()
    changes = AnnotationChangesSerializer()


class TargetMessage(serializers.Serializer):
    op = OpField()
    id = serializers.UUIDField()
    reason = serializers.CharField(max_length=MAX_REASON, required=False, allow_blank=True, default="")


class CommentCreateMessage(serializers.Serializer):
    op = OpField()
    comment = CommentInputSerializer()


class CommentEditMessage(serializers.Serializer):
    op = OpField()
    id = serializers.UUIDField()
    body = serializers.CharField(max_length=MAX_BODY)
    reason = serializers.CharField(max_length=MAX_REASON, required=False, allow_blank=True, default="")


class LoopField(serializers.ListField):
    child = serializers.IntegerField(min_value=0)

    def __init__(self, **kwargs):
        super().__init__(min_length=2, max_length=2, allow_null=True, required=False, **kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if value[0] > value[1]:
            raise serializers.ValidationError("The loop is [in, out] with in at or before out.")
        return value


class CompareSerializer(serializers.Serializer):
    mode = serializers.ChoiceField(choices=COMPARE_MODES)
    version = serializers.IntegerField(min_value=1, required=False, allow_null=True,
                                       help_text="The version shown against the current one.")
    position = _unit_float(required=False, default=0.5, help_text="Wipe position, 0..1 from the left.")


class PlayheadMessage(serializers.Serializer):
    """The presenter's transport. Every field is optional: what is sent replaces what was."""

    state = serializers.ChoiceField(choices=("playing", "paused"), required=False)
    frame = serializers.IntegerField(min_value=0, required=False)
    rate = serializers.FloatField(min_value=-16, max_value=16, required=False)
    loop = LoopField()
    compare = CompareSerializer(required=False, allow_null=True)
    version = serializers.IntegerField(min_value=1, required=False, help_text="In a session room: the shown version.")

    def validate_rate(self, rate):
        if rate == 0:
            raise serializers.ValidationError("A rate of 0 is a pause: send state 'paused'.")
        return rate

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError("Send at least one of state, frame, rate, loop, compare, version.")
        return attrs


class OpMessage(serializers.Serializer):
    op = OpField()


class HandoverMessage(serializers.Serializer):
    op = OpField()
    to = serializers.IntegerField(min_value=1, help_text="The user id of the new presenter.")


def flatten_errors(detail, prefix=""):
    """DRF's nested error detail as 'field.sub: message' lines, so one error frame can name
    exactly what was wrong."""
    lines = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = prefix if key == "non_field_errors" else (f"{prefix}.{key}" if prefix else str(key))
            lines.extend(flatten_errors(value, name))
    elif isinstance(detail, list):
        if all(isinstance(item, str) for item in detail):
            lines.extend(f"{prefix}: {item}" if prefix else str(item) for item in detail)
        else:
            for item in detail:
                lines.extend(flatten_errors(item, prefix))
    else:
        lines.append(f"{prefix}: {detail}" if prefix else str(detail))
    return lines

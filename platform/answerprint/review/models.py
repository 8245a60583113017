"""Review rooms: annotations, comments, playlists and the ordered event log of each room.

Frames are integers counted from the shot's first frame (0 is the first frame of the shot),
never seconds. Geometry is normalised to the picture: x and y run 0..1 from the top-left corner
and widths are a fraction of the frame height, so a drawing made on a 960-pixel proxy lands on
the same spot of the 4K original.
"""
import uuid

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q


class ReviewSession(models.Model):
    """A review meeting over a playlist of versions, with its own room."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    production = models.ForeignKey("accounts.Production", on_delete=models.CASCADE, related_name="review_sessions")
    title = models.CharField(max_length=200)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return self.title

    @property
    def is_open(self):
        return self.closed_at is None


class ReviewSessionItem(models.Model):
    session = models.ForeignKey(ReviewSession, on_delete=models.CASCADE, related_name="items")
    version = models.ForeignKey("media.Version", on_delete=models.CASCADE, related_name="review_session_items")
    position = models.PositiveIntegerField()

    class Meta:
        ordering = ["session", "position"]
        constraints = [
            models.UniqueConstraint(fields=["session", "version"], name="one_playlist_entry_per_version"),
            models.UniqueConstraint(fields=["session", "position"], name="one_playlist_entry_per_position"),
        ]

    def __str__(self):
        return f"{self.session} #{self.position}"


class RoomKind(models.TextChoices):
    VERSION = "version", "Version"
    SESSION = "session", "Session"


class Room(models.Model):
    """The shared state of a review room, kept here rather than in any one web process so that
    every daphne process serving the room sees the same presenter, playhead and sequence.

    `last_sequence` is the counter of the room's event log: a writer locks this row, takes the
    next number and writes the RoomEvent in the same transaction, so numbers are gap-free and
    ordered by commit.
    """

    key = models.CharField(max_length=80, unique=True)
    kind = models.CharField(max_length=10, choices=RoomKind.choices)
    production = models.ForeignKey("accounts.Production", on_delete=models.CASCADE, related_name="+")
    version = models.OneToOneField(
        "media.Version", null=True, blank=True, on_delete=models.CASCADE, related_name="review_room"
    )
    session = models.OneToOneField(
        ReviewSession, null=True, blank=True, on_delete=models.CASCADE, related_name="room"
    )
    last_sequence = models.BigIntegerField(default=0)
    presenter = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    playhead = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    playhead_revision = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind="version", version__isnull=False, session__isnull=True)
                           | Q(kind="session", session__isnull=False, version__isnull=True)),
                name="room_is_for_a_version_or_a_session",
            )
        ]

    def __str__(self):
        return self.key

    @property
    def group_name(self):
        return f"review.{self.key}"


class RoomEvent(models.Model):
    """One stored event of a room, numbered. A reconnecting client asks for everything after
    the last number it saw. `op` is the client's idempotency key: a retried send finds its
    earlier event instead of being applied twice."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="events")
    sequence = models.BigIntegerField()
    type = models.CharField(max_length=60)
    payload = models.JSONField(encoder=DjangoJSONEncoder)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    author_name = models.CharField(max_length=300, blank=True)
    op = models.CharField(max_length=64, null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["room", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["room", "sequence"], name="unique_room_sequence"),
            models.UniqueConstraint(
                fields=["room", "author", "op"], condition=Q(op__isnull=False), name="unique_room_author_op"
            ),
        ]

    def __str__(self):
        return f"{self.room.key} #{self.sequence} {self.type}"


class ShapeKind(models.TextChoices):
    STROKE = "stroke", "Freehand stroke"
    LINE = "line", "Line"
    ARROW = "arrow", "Arrow"
    RECTANGLE = "rectangle", "Rectangle"
    ELLIPSE = "ellipse", "Ellipse"
    POLYGON = "polygon", "Polygon mask"
    TEXT = "text", "Text"


class Annotation(models.Model):
    """One vector shape drawn on a version, on one frame or a run of frames.

    The id is made by the client, so a drawing made offline or sent twice keeps one identity.
    `points` is a list of [x, y, pressure], each 0..1; `width` is the stroke width (for text,
    the text height) as a fraction of the frame height.
    """

    id = models.UUIDField(primary_key=True)
    version = models.ForeignKey("media.Version", on_delete=models.CASCADE, related_name="annotations")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    frame = models.PositiveIntegerField()
    duration = models.PositiveIntegerField(default=1)
    shape = models.CharField(max_length=20, choices=ShapeKind.choices)
    points = models.JSONField()
    color = models.CharField(max_length=9)
    width = models.FloatField()
    text = models.TextField(blank=True)
    revision = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["version", "frame", "created_at"]
        indexes = [models.Index(fields=["version", "frame"])]

    def __str__(self):
        return f"{self.get_shape_display()} at frame {self.frame}"

    @property
    def last_frame(self):
        return self.frame + self.duration - 1


class Comment(models.Model):
    """A note on a version, at a frame or a run of frames (or the whole version when frame is
    empty). Replies hang off a top-level comment; resolving applies to the thread.

    Edits and deletions never lose text: the replaced text moves to CommentRevision, a deleted
    comment keeps its body, and both are in the audit log."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    version = models.ForeignKey("media.Version", on_delete=models.CASCADE, related_name="review_comments")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="replies")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    frame = models.PositiveIntegerField(null=True, blank=True)
    duration = models.PositiveIntegerField(default=1)
    body = models.TextField()
    mentions = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="review_mentions")
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    revision = models.PositiveIntegerField(default=1)
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["version", "created_at"])]

    def __str__(self):
        return self.body[:60]


class CommentRevision(models.Model):
    """A text a comment used to have, kept when an edit or a deletion replaced it."""

    comment = models.ForeignKey(Comment, on_delete=models.CASCADE, related_name="revisions")
    revision = models.PositiveIntegerField()
    body = models.TextField()
    written_at = models.DateTimeField()
    replaced_at = models.DateTimeField()
    replaced_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["comment", "revision"]
        constraints = [models.UniqueConstraint(fields=["comment", "revision"], name="unique_comment_revision")]


class RoomPresence(models.Model):
    """Who is connected to a room right now, one row per connection, shared by every web
    process. A process that dies leaves rows behind: `seen_at` ages them out."""

    channel_name = models.CharField(max_length=200, unique=True)
    public_id = models.CharField(max_length=32)
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="presences")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    frame = models.PositiveIntegerField(null=True, blank=True)
    version_id_shown = models.BigIntegerField(null=True, blank=True)
    following = models.BooleanField(default=True)
    joined_at = models.DateTimeField()
    seen_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["room", "seen_at"])]


class NotificationKind(models.TextChoices):
    MENTION = "mention", "Mentions of me"
    REPLY = "reply", "Replies to my notes"
    PROPOSAL_READY = "proposal_ready", "Proposals ready for what I asked"
    DECISION = "decision", "Decisions on what I asked"
    CHANGES_REQUESTED = "changes_requested", "Requests for changes on what I asked"


class Notification(models.Model):
    """Something a person should know, in their inbox until they read it, with a link to the exact
    frame (or fix) it is about."""

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    production = models.ForeignKey("accounts.Production", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=30, choices=NotificationKind.choices)
    actor_name = models.CharField(max_length=300)
    text = models.CharField(max_length=500)
    url = models.CharField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["recipient", "read_at"])]

    def __str__(self):
        return f"{self.get_kind_display()} for {self.recipient}: {self.text[:60]}"


class NotificationPreference(models.Model):
    """Per person and kind: shown in the inbox, sent by e-mail. Without a row both are on."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=30, choices=NotificationKind.choices)
    in_app = models.BooleanField(default=True)
    email = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "kind"], name="one_preference_per_kind")]

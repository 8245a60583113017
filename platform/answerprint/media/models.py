from fractions import Fraction

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

shot_name_validator = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$", "Use letters, digits, '_', '.' and '-' (for example SC012_SH030)."
)


class ShotStatus(models.TextChoices):
    WAITING = "waiting", "Waiting"
    IN_PROGRESS = "in_progress", "In progress"
    IN_REVIEW = "in_review", "In review"
    APPROVED = "approved", "Approved"
    FINAL = "final", "Final"
    OMITTED = "omitted", "Omitted"


class Shot(models.Model):
    """A shot of a production. Frames are integers; first_frame..last_frame is inclusive."""

    production = models.ForeignKey("accounts.Production", on_delete=models.CASCADE, related_name="shots")
    name = models.CharField(max_length=80, validators=[shot_name_validator])
    sequence = models.CharField(max_length=80, blank=True)
    episode = models.CharField(max_length=80, blank=True)
    description = models.TextField(blank=True)
    first_frame = models.IntegerField(default=1001)
    last_frame = models.IntegerField(null=True, blank=True)
    # Editorial, from a timeline import. Timecodes are "HH:MM:SS:FF" (";" = drop frame); the
    # source range is the frames the cut uses (speed effects and transitions included), out
    # exclusive as an EDL writes it. first_frame..last_frame adds `handles` frames each side:
    # source_timecode_in is frame first_frame + handles.
    source_name = models.CharField(max_length=300, blank=True, help_text="Source file name (basename)")
    reel = models.CharField(max_length=120, blank=True, help_text="Reel or tape name")
    clip_name = models.CharField(max_length=300, blank=True)
    source_timecode_in = models.CharField(max_length=16, blank=True)
    source_timecode_out = models.CharField(max_length=16, blank=True)
    record_timecode_in = models.CharField(max_length=16, blank=True)
    record_timecode_out = models.CharField(max_length=16, blank=True)
    handles = models.PositiveIntegerField(default=0)
    # Source frames per record frame: null plays at speed, 0 is a freeze, negative plays in reverse.
    time_scalar = models.FloatField(null=True, blank=True)
    # ASC CDL as the editor set it: {"slope": [r, g, b], "offset": [...], "power": [...], "saturation": s}.
    cdl = models.JSONField(null=True, blank=True)
    editorial_notes = models.TextField(blank=True)
    timeline = models.ForeignKey("media.TimelineImport", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="shots", help_text="The import that last set the editorial fields")
    status = models.CharField(max_length=20, choices=ShotStatus.choices, default=ShotStatus.WAITING)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["sequence", "name"]
        constraints = [models.UniqueConstraint(fields=["production", "name"], name="unique_shot_name")]

    def __str__(self):
        return self.name

    @property
    def frame_count(self):
        return None if self.last_frame is None else self.last_frame - self.first_frame + 1

    @property
    def cut_in_frame(self):
        """The shot's frame number of source_timecode_in: its first frame after the head handle."""
        return self.first_frame + self.handles


class VersionKind(models.TextChoices):
    PLATE = "plate", "Plate"
    PROPOSAL = "proposal", "Proposal"
    DELIVERY = "delivery", "Delivery"


class VersionState(models.TextChoices):
    PROCESSING = "processing", "Processing"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class Version(models.Model):
    """One take of a shot's picture: a plate, an AI proposal, or an approved delivery."""

    shot = models.ForeignKey(Shot, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    kind = models.CharField(max_length=20, choices=VersionKind.choices, default=VersionKind.PLATE)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    state = models.CharField(max_length=20, choices=VersionState.choices, default=VersionState.PROCESSING)
    note = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["shot", "number"]
        constraints = [models.UniqueConstraint(fields=["shot", "number"], name="unique_version_number")]

    def __str__(self):
        return f"{self.shot.name} v{self.number:03d}"


class AssetStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    PROBING = "probing", "Probing"
    TRANSCODING = "transcoding", "Making proxy"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class MediaAsset(models.Model):
    """The picture of a version: the original as received, and what ingest derived from it.

    The original is never modified or deleted by ingest, also when ingest fails: a failed asset
    keeps its bytes and the reason, and ingest can be retried.
    """

    version = models.OneToOneField(Version, on_delete=models.CASCADE, related_name="asset")
    original = models.FileField(max_length=500)
    original_name = models.CharField(max_length=300)
    # An image sequence is stored as a printf pattern ("plates/x/frame.%04d.exr") with its first number.
    is_sequence = models.BooleanField(default=False)
    sequence_start = models.IntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    size_bytes = models.BigIntegerField(default=0)

    status = models.CharField(max_length=20, choices=AssetStatus.choices, default=AssetStatus.QUEUED)
    status_reason = models.TextField(blank=True)
    progress = models.PositiveSmallIntegerField(default=0)
    attempts = models.PositiveIntegerField(default=0)

    # Probe results. The rate is a ratio; frames are counted, never derived from float seconds.
    fps_num = models.PositiveIntegerField(null=True, blank=True)
    fps_den = models.PositiveIntegerField(null=True, blank=True)
    frame_count = models.PositiveIntegerField(null=True, blank=True)
    start_timecode = models.CharField(max_length=16, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    codec = models.CharField(max_length=40, blank=True)
    pixel_format = models.CharField(max_length=40, blank=True)
    bit_depth = models.PositiveSmallIntegerField(null=True, blank=True)
    color_primaries = models.CharField(max_length=40, blank=True)
    color_transfer = models.CharField(max_length=40, blank=True)
    color_space = models.CharField(max_length=40, blank=True)
    color_range = models.CharField(max_length=20, blank=True)
    probe = models.JSONField(null=True, blank=True)

    # Derived for the browser: an H.264 proxy with a keyframe every 2 frames, a poster, a sprite.
    proxy = models.FileField(max_length=500, blank=True)
    proxy_width = models.PositiveIntegerField(null=True, blank=True)
    proxy_height = models.PositiveIntegerField(null=True, blank=True)
    poster = models.FileField(max_length=500, blank=True)
    filmstrip = models.FileField(max_length=500, blank=True)
    filmstrip_tiles = models.PositiveSmallIntegerField(default=0)
    filmstrip_tile_width = models.PositiveSmallIntegerField(default=0)
    filmstrip_tile_height = models.PositiveSmallIntegerField(default=0)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.original_name} ({self.get_status_display()})"

    @property
    def fps(self):
        if not self.fps_num or not self.fps_den:
            return None
        return Fraction(self.fps_num, self.fps_den)

    @property
    def is_ready(self):
        return self.status == AssetStatus.READY


class ShotNameRule(models.TextChoices):
    AUTO = "auto", "A locator or comment that reads like a shot name, else the clip name"
    CLIP = "clip", "The clip name (FROM CLIP NAME in an EDL)"
    REEL = "reel", "The reel or tape name"
    LOCATOR = "locator", "The first locator's text"
    EVENT = "event", "The timeline's name and the event number"


class NameCollision(models.TextChoices):
    REFUSE = "refuse", "Skip the event and say so"
    RENAME = "rename", "Give the new shot a free name (_2, _3, ...)"


class TimelineImport(models.Model):
    """One import of an editor's timeline, with the report of what became of every event."""

    production = models.ForeignKey("accounts.Production", on_delete=models.CASCADE, related_name="timelines")
    name = models.CharField(max_length=300, blank=True, help_text="The timeline's own name (an EDL's TITLE)")
    file_name = models.CharField(max_length=300, blank=True)
    format = models.CharField(max_length=10)
    sha256 = models.CharField(max_length=64)
    fps_num = models.PositiveIntegerField()
    fps_den = models.PositiveIntegerField()
    handles = models.PositiveIntegerField()
    name_rule = models.CharField(max_length=10, choices=ShotNameRule.choices)
    on_collision = models.CharField(max_length=10, choices=NameCollision.choices)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    # {"events": [{"event", "line", "outcome", "shot", "message", ...}], "repeats": [...]}
    report = models.JSONField(default=dict)
    imported_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    imported_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-imported_at", "-pk"]

    def __str__(self):
        return self.file_name or self.name or f"timeline {self.pk}"


class ShotLocator(models.Model):
    """A locator the editor put on a clip, on the shot's frame numbering; delivery exports it back."""

    shot = models.ForeignKey(Shot, on_delete=models.CASCADE, related_name="locators")
    timeline = models.ForeignKey(TimelineImport, null=True, on_delete=models.SET_NULL, related_name="locators")
    frame = models.IntegerField(help_text="The shot's frame number (first_frame counts from the head handle)")
    timecode = models.CharField(max_length=16, help_text="Source timecode of the frame")
    color = models.CharField(max_length=20, blank=True)
    text = models.TextField()
    # The review comment that carries it to the shot's plate, once the shot has one.
    comment = models.ForeignKey("review.Comment", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["shot", "frame", "pk"]
        constraints = [models.UniqueConstraint(fields=["shot", "frame", "text"], name="unique_shot_locator")]

    def __str__(self):
        return f"{self.shot.name} {self.frame}: {self.text}"

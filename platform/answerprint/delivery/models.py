"""Delivery packages: the conform-ready media of an approved fix, with its sidecar, its content
credentials and its ASC MHL manifest, as one folder an editor or a facility can take away."""
from django.db import models


class PackageState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RENDERING = "rendering", "Rendering"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class DeliveryPackage(models.Model):
    """One delivery Version's package. Frames are the source's, counted from 0 like a fix request's."""

    production = models.ForeignKey("accounts.Production", on_delete=models.PROTECT, related_name="delivery_packages")
    proposal = models.OneToOneField("fixes.Proposal", on_delete=models.PROTECT, related_name="delivery_package")
    version = models.OneToOneField("media.Version", on_delete=models.PROTECT, related_name="delivery_package")
    state = models.CharField(max_length=20, choices=PackageState.choices, default=PackageState.QUEUED)
    status_reason = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)

    # The approved range that replaces the source's frames, and where it sits in timecode.
    frame_in = models.PositiveIntegerField()
    frame_out = models.PositiveIntegerField()
    start_timecode = models.CharField(max_length=16, blank=True)
    reel_name = models.CharField(max_length=120, blank=True)

    # The package on media storage: a folder holding the media, the sidecars and ascmhl/.
    folder = models.CharField(max_length=500, blank=True)
    media_name = models.CharField(max_length=300, blank=True)
    is_sequence = models.BooleanField(default=False)
    codec = models.CharField(max_length=40, blank=True)
    profile = models.CharField(max_length=40, blank=True)
    files = models.JSONField(default=list)  # [{"path", "size", "sha256"}], relative to the folder
    # The hash of the ASC MHL generation file: what downloads and audit events name the package by.
    manifest_sha256 = models.CharField(max_length=64, blank=True)
    credentials = models.JSONField(default=list)  # the files carrying C2PA content credentials

    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"Delivery package of {self.version}"

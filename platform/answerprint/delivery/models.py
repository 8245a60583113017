"""Delivery packages: the conform-ready media of an approved fix, with its sidecar, its content
credentials and its ASC MHL manifest, as one folder an editor or a facility can take away."""
import uuid

from django.conf import settings
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


class WebhookEvent(models.TextChoices):
    PROPOSAL_READY = "proposal.ready", "A proposed fix is ready for review"
    DECISION_MADE = "decision.made", "A proposal was approved, rejected or sent back"
    DELIVERY_CREATED = "delivery.created", "A delivery package was built"
    COMMENT_CREATED = "comment.created", "A review comment was written"
    VERSION_INGESTED = "version.ingested", "A version's media finished ingest"


class WebhookEndpoint(models.Model):
    """A URL of another system that hears about a production's events, signed with its secret.

    The secret is shown once, when made or rotated; it is kept because every request is signed
    with it (HMAC-SHA256), and never shown again."""

    production = models.ForeignKey("accounts.Production", on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=500)
    description = models.CharField(max_length=200, blank=True)
    events = models.JSONField(default=list)
    secret = models.CharField(max_length=100)
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self):
        return f"Webhook {self.url}"


class DeliveryState(models.TextChoices):
    PENDING = "pending", "Waiting to be sent"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Given up"


class WebhookDelivery(models.Model):
    """One event for one endpoint: the outbox row that is sent, retried with backoff by the beat
    sweep until the receiver answers 2xx or the attempts run out, and the log people read."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=40)
    payload = models.JSONField()
    state = models.CharField(max_length=20, choices=DeliveryState.choices, default=DeliveryState.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    response_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["state", "next_attempt_at"])]

    def __str__(self):
        return f"{self.event} to {self.endpoint.url} ({self.get_state_display()})"

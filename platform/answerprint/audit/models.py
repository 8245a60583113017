from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    """One entry of the append-only, hash-chained audit log.

    Rows are written only by `audit.services.record_event` and chained by `sealing`, which
    fills `sequence`, `prev_hash` and `hash` once, after the writer commits; the database refuses
    every other UPDATE, and DELETE and TRUNCATE (see `protection`). Names, roles and the target's
    description are copied in, so an entry still reads the same after the user or object changes.
    """

    sequence = models.BigIntegerField(unique=True, null=True, blank=True)  # null until sealed
    occurred_at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_name = models.CharField(max_length=300, blank=True)
    actor_role = models.CharField(max_length=40, blank=True)
    action = models.CharField(max_length=100, db_index=True)
    production = models.ForeignKey(  # indexed with the sequence below
        "accounts.Production", null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    target_type = models.CharField(max_length=100, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_repr = models.CharField(max_length=300, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    reason = models.TextField(blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    ip = models.CharField(max_length=64, blank=True)
    user_agent = models.CharField(max_length=400, blank=True)
    content_hash = models.CharField(max_length=64)  # SHA-256 of the canonical content (chain.content_hash)
    prev_hash = models.CharField(max_length=64, null=True, blank=True)
    # Not indexed: nothing looks an event up by its hash, and sealing rewrites every index entry.
    hash = models.CharField(max_length=64, null=True, blank=True)

    class Meta:
        # Sealed events in chain order, then any not sealed yet in the order they were written.
        ordering = [models.F("sequence").asc(nulls_last=True), "id"]
        indexes = [
            models.Index(fields=["production", "sequence"]),
            models.Index(fields=["target_type", "target_id"]),
            models.Index(fields=["occurred_at"]),
            models.Index(fields=["id"], condition=models.Q(hash__isnull=True), name="audit_event_unsealed"),
        ]

    def __str__(self):
        number = f"#{self.sequence}" if self.sequence is not None else "(sealing)"
        return f"{number} {self.action} by {self.actor_name or 'system'}"


class Checkpoint(models.Model):
    """A signed Merkle root over the events since the checkpoint before it (append-only too).

    `payload` holds the exact JSON that was signed: the range, the leaf count, the root, the chain
    head at `last_sequence` and the previous checkpoint's root, so each checkpoint also commits to
    every one before it. The signature is made with a key kept outside the database: whoever can
    rewrite rows cannot make a checkpoint that verifies against the published public key.
    """

    number = models.PositiveIntegerField(unique=True)
    first_sequence = models.BigIntegerField()
    last_sequence = models.BigIntegerField(unique=True)
    leaf_count = models.PositiveIntegerField()
    root = models.CharField(max_length=64)
    previous_root = models.CharField(max_length=64, blank=True)
    last_event_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    payload = models.TextField()
    signature = models.CharField(max_length=128)  # Ed25519, hex
    public_key = models.CharField(max_length=64)  # raw Ed25519 public key, hex
    key_id = models.CharField(max_length=16)
    # RFC 3161 token (DER) over the signature's bytes, when a timestamp authority is configured:
    # proof from outside that this signature existed no later than the authority's time.
    timestamp_token = models.BinaryField(null=True, blank=True)

    class Meta:
        ordering = ["number"]

    def __str__(self):
        return f"checkpoint {self.number}: #{self.first_sequence}–#{self.last_sequence}"


class ExportReport(models.TextChoices):
    """What a stored export holds: the audit log in one of its formats, or the AI disclosure."""

    AUDIT_JSONL = "audit.jsonl", "Audit log, JSON Lines (verifiable offline)"
    AUDIT_CSV = "audit.csv", "Audit log, CSV (verifiable offline)"
    AUDIT_PDF = "audit.pdf", "Audit report, PDF/A"
    DISCLOSURE_JSON = "disclosure.json", "AI disclosure, JSON"
    DISCLOSURE_CSV = "disclosure.csv", "AI disclosure, CSV"
    DISCLOSURE_PDF = "disclosure.pdf", "AI disclosure, PDF/A"


class ExportFrequency(models.TextChoices):
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"
    MONTHLY = "monthly", "Monthly"


class ExportSchedule(models.Model):
    """Compliance's standing order: one report of one production, made by Celery beat when due.

    Each run of an audit-log export covers the events since the previous run's end, so the stored
    exports of a schedule tile the log without overlap."""

    production = models.ForeignKey("accounts.Production", on_delete=models.PROTECT, related_name="+")
    report = models.CharField(max_length=20, choices=ExportReport.choices)
    frequency = models.CharField(max_length=10, choices=ExportFrequency.choices)
    reason = models.TextField()
    active = models.BooleanField(default=True)
    next_run_at = models.DateTimeField()
    last_run_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["production", "created_at"]
        indexes = [models.Index(fields=["active", "next_run_at"])]

    def __str__(self):
        return f"{self.get_frequency_display()} {self.get_report_display()} of {self.production}"


class StoredExport(models.Model):
    """One export exactly as it was made, kept write-once: the database refuses UPDATE, DELETE and
    TRUNCATE on this table, the file is never overwritten, and its SHA-256 is checked before every
    download. `manifest` is signed with the audit key: file name, size, hash, scope and period."""

    production = models.ForeignKey("accounts.Production", on_delete=models.PROTECT, related_name="+")
    schedule = models.ForeignKey(ExportSchedule, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="exports")
    report = models.CharField(max_length=20, choices=ExportReport.choices)
    period_start = models.DateTimeField(null=True, blank=True)  # None: from the beginning
    period_end = models.DateTimeField()
    file = models.FileField(max_length=500)
    file_name = models.CharField(max_length=200)
    sha256 = models.CharField(max_length=64)
    size_bytes = models.BigIntegerField()
    manifest = models.JSONField()
    generated_by = models.CharField(max_length=300)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"{self.file_name} ({self.get_report_display()})"

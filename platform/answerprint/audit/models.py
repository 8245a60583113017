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

"""Fix requests, the jobs that run them, the proposals they make, the decisions people sign, the
production's approval policy and the consent registry.

Frames are integers counted from the shot's first frame (0 is the shot's first frame), the same
numbering the review rooms use for annotations.
"""
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.functional import cached_property

from .kinds import Category, ConsentType, kind_choices

# An employment-based replica may be used no earlier than 48 hours after the performer was
# given notice (SAG-AFTRA 2023).
REPLICA_NOTICE = timedelta(hours=48)


class Guild(models.TextChoices):
    SAG_AFTRA = "sag_aftra", "SAG-AFTRA"
    EQUITY = "equity", "Equity (UK)"
    ACTRA = "actra", "ACTRA"
    MEAA = "meaa", "MEAA"
    OTHER = "other", "Other"
    NONE = "none", "None"


class SignerCapacity(models.TextChoices):
    PERFORMER = "performer", "The performer"
    REPRESENTATIVE = "representative", "Authorised representative"


class ConsentQuerySet(models.QuerySet):
    def in_force(self, at=None):
        """Signed, not revoked, not expired at `at`. Notice for employment replicas is checked
        per consent (`Consent.is_in_force`), since it needs arithmetic on two columns."""
        at = at or timezone.now()
        return self.filter(revoked_at__isnull=True, signed_at__lte=at).filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=at))


class Consent(models.Model):
    """A performer's written consent, as signed: what it allows, where, and until when.

    Never deleted: a withdrawn consent is revoked (time, who, why) and stays on the register.
    """

    production = models.ForeignKey("accounts.Production", on_delete=models.PROTECT, related_name="consents")
    performer = models.CharField(max_length=200)
    guild = models.CharField(max_length=20, choices=Guild.choices, default=Guild.SAG_AFTRA)
    consent_type = models.CharField(max_length=30, choices=ConsentType.CHOICES)
    scope = models.TextField(help_text="The written scope of use, as in the signed document.")
    kinds = models.JSONField(default=list, help_text="The fix kinds the scope allows.")
    shots = models.ManyToManyField("media.Shot", related_name="consents")
    signed_by = models.CharField(max_length=200, help_text="Who signed: the performer or their representative.")
    signer_capacity = models.CharField(max_length=20, choices=SignerCapacity.choices,
                                       default=SignerCapacity.PERFORMER)
    document = models.FileField(max_length=500, blank=True)
    document_sha256 = models.CharField(max_length=64)
    signed_at = models.DateTimeField()
    notice_given_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    revocation_reason = models.TextField(blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)

    objects = ConsentQuerySet.as_manager()

    class Meta:
        ordering = ["performer", "-signed_at"]

    def __str__(self):
        return f"{self.performer}: {self.get_consent_type_display()}"

    @property
    def effective_from(self):
        if self.consent_type == ConsentType.EMPLOYMENT_REPLICA and self.notice_given_at:
            return max(self.signed_at, self.notice_given_at + REPLICA_NOTICE)
        return self.signed_at

    def is_in_force(self, at=None):
        at = at or timezone.now()
        return (self.revoked_at is None and self.effective_from <= at
                and (self.expires_at is None or self.expires_at > at))

    def why_not_in_force(self, at=None):
        at = at or timezone.now()
        if self.revoked_at is not None:
            return f"it was revoked on {self.revoked_at:%Y-%m-%d %H:%M} UTC"
        if self.expires_at is not None and self.expires_at <= at:
            return f"it expired on {self.expires_at:%Y-%m-%d %H:%M} UTC"
        if self.effective_from > at:
            return f"it takes effect on {self.effective_from:%Y-%m-%d %H:%M} UTC"
        return ""

    @property
    def status(self):
        reason = self.why_not_in_force()
        if self.revoked_at is not None:
            return "revoked"
        if reason.startswith("it expired"):
            return "expired"
        if reason:
            return "pending"
        return "in force"


class FixPolicy(models.Model):
    """A production's approval policy, as data. Without a row the defaults below apply: one
    producer approves, and nobody approves their own request."""

    production = models.OneToOneField("accounts.Production", on_delete=models.CASCADE, related_name="fix_policy")
    approver_roles = models.JSONField(default=list, help_text="Roles whose signature approves.")
    recommender_roles = models.JSONField(default=list, help_text="Roles whose signature recommends (review).")
    required_recommendations = models.PositiveSmallIntegerField(default=0)
    required_approvals = models.PositiveSmallIntegerField(default=1)
    requester_may_approve = models.BooleanField(default=False)
    consent_kinds = models.JSONField(default=list, blank=True,
                                     help_text="Technical kinds this production also puts under consent.")
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")

    DEFAULTS = {
        "approver_roles": ["producer"],
        "recommender_roles": ["supervisor"],
        "required_recommendations": 0,
        "required_approvals": 1,
        "requester_may_approve": False,
        "consent_kinds": [],
    }

    def __str__(self):
        return f"Fix policy of {self.production}"

    def as_dict(self):
        return {name: getattr(self, name) for name in self.DEFAULTS}


class PolicyChangeState(models.TextChoices):
    PENDING = "pending", "Waiting for a second person"
    APPLIED = "applied", "Applied"
    SUPERSEDED = "superseded", "Superseded"


class FixPolicyChange(models.Model):
    """One change of a production's approval policy, from proposal to effect.

    A change that only tightens the policy applies at once. One that relaxes it (fewer
    signatures, more roles that sign, requesters approving their own requests, fewer kinds under
    consent) waits until a second producer or compliance confirms it, and then holds only for
    fix requests made after it took effect: a producer cannot switch separation of duties off
    for the one request they need.
    """

    production = models.ForeignKey("accounts.Production", on_delete=models.CASCADE, related_name="fix_policy_changes")
    before = models.JSONField()
    after = models.JSONField()
    relaxes = models.JSONField(default=list, help_text="Names of the settings this change relaxes.")
    reason = models.TextField()
    state = models.CharField(max_length=12, choices=PolicyChangeState.choices)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    proposed_at = models.DateTimeField(default=timezone.now)
    confirmed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["proposed_at", "pk"]

    def __str__(self):
        return f"Policy change #{self.pk} of {self.production} ({self.state})"


class RequestState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    PROPOSED = "proposed", "Awaiting decision"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class Origin(models.TextChoices):
    UI = "ui", "Web page"
    API = "api", "API"
    ROOM = "room", "Review room"


class FixRequest(models.Model):
    """A person's request for a fix of one shot's version, with everything the model is given."""

    production = models.ForeignKey("accounts.Production", on_delete=models.PROTECT, related_name="fix_requests")
    shot = models.ForeignKey("media.Shot", on_delete=models.PROTECT, related_name="fix_requests")
    source_version = models.ForeignKey("media.Version", on_delete=models.PROTECT, related_name="fix_requests")
    kind = models.CharField(max_length=40, choices=kind_choices())
    category = models.CharField(max_length=30, default=Category.TECHNICAL)
    params = models.JSONField(default=dict)
    # The drawn region: the annotation it came from, its shape as it was when requested, and the
    # matte rendered from it at the source's resolution (what the model is given).
    mask_annotation = models.ForeignKey("review.Annotation", null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="fix_requests")
    mask_shape = models.JSONField(null=True, blank=True)
    mask = models.FileField(max_length=500, blank=True)
    mask_sha256 = models.CharField(max_length=64, blank=True)
    # Removal: the drawn region tracked through the range before the fix is fitted, one grey PNG
    # per frame of the range in this media-storage folder (000000.png = frame_in), and the hash the
    # proposal's model card records as the mask it was given (inference.card.tensor_hash).
    matte_track = models.CharField(max_length=500, blank=True)
    matte_track_sha256 = models.CharField(max_length=64, blank=True)
    frame_in = models.PositiveIntegerField()
    frame_out = models.PositiveIntegerField()
    reference_shot = models.ForeignKey("media.Shot", null=True, blank=True, on_delete=models.PROTECT,
                                       related_name="+")
    reference_version = models.ForeignKey("media.Version", null=True, blank=True, on_delete=models.PROTECT,
                                          related_name="+")
    replacement_version = models.ForeignKey("media.Version", null=True, blank=True, on_delete=models.PROTECT,
                                            related_name="+")
    performer = models.CharField(max_length=200, blank=True)
    consent = models.ForeignKey(Consent, null=True, blank=True, on_delete=models.PROTECT, related_name="requests")
    reason = models.TextField()
    origin = models.CharField(max_length=10, choices=Origin.choices, default=Origin.UI)
    # The client's idempotency key: the same key from the same person makes one request.
    client_op = models.CharField(max_length=64, null=True, blank=True)
    follow_up_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="follow_ups")
    state = models.CharField(max_length=20, choices=RequestState.choices, default=RequestState.QUEUED)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["production", "state"])]
        constraints = [
            models.CheckConstraint(condition=Q(frame_out__gte=models.F("frame_in")), name="fix_frame_range_ordered"),
            models.UniqueConstraint(fields=["requested_by", "client_op"], condition=Q(client_op__isnull=False),
                                    name="one_request_per_client_op"),
        ]

    def __str__(self):
        return f"Fix #{self.pk} {self.get_kind_display()} on {self.shot.name}"

    @property
    def frame_count(self):
        return self.frame_out - self.frame_in + 1


class JobState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class Job(models.Model):
    """One run of a request on a GPU worker. `deliveries` counts how often a worker picked it up:
    more than one means a worker died (or the broker redelivered) and another took over."""

    request = models.ForeignKey(FixRequest, on_delete=models.PROTECT, related_name="jobs")
    state = models.CharField(max_length=20, choices=JobState.choices, default=JobState.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    stage = models.CharField(max_length=200, blank=True)
    queue = models.CharField(max_length=40, default="gpu")
    task_id = models.CharField(max_length=64, blank=True)
    deliveries = models.PositiveIntegerField(default=0)
    max_deliveries = models.PositiveIntegerField(default=3)
    worker = models.CharField(max_length=200, blank=True)
    device = models.CharField(max_length=200, blank=True)
    seed = models.BigIntegerField(default=0)
    time_limit_s = models.PositiveIntegerField()
    queued_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")

    class Meta:
        ordering = ["-queued_at"]

    def __str__(self):
        return f"Job #{self.pk} ({self.get_state_display()})"

    @property
    def is_active(self):
        return self.state in (JobState.QUEUED, JobState.RUNNING)

    @property
    def deadline(self):
        return (self.started_at + timedelta(seconds=self.time_limit_s)) if self.started_at else None


class ProposalState(models.TextChoices):
    PENDING = "pending", "Awaiting decision"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"


class Proposal(models.Model):
    """What a job made: a Version of kind proposal with its provenance (the model card) and the
    hashes a signature binds to. One per job, whatever the broker delivers twice."""

    request = models.OneToOneField(FixRequest, on_delete=models.PROTECT, related_name="proposal")
    job = models.OneToOneField(Job, on_delete=models.PROTECT, related_name="proposal")
    version = models.OneToOneField("media.Version", on_delete=models.PROTECT, related_name="proposal")
    model_card = models.JSONField()
    model_card_sha256 = models.CharField(max_length=64)
    metrics = models.JSONField(default=dict)
    media_sha256 = models.CharField(max_length=64)
    # Where frame 0 of the proposal's picture sits in the shot.
    first_frame = models.PositiveIntegerField(default=0)
    preview = models.FileField(max_length=500, blank=True)
    state = models.CharField(max_length=20, choices=ProposalState.choices, default=ProposalState.PENDING)
    decided_at = models.DateTimeField(null=True, blank=True)
    delivery_version = models.OneToOneField("media.Version", null=True, blank=True, on_delete=models.PROTECT,
                                            related_name="delivered_proposal")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self):
        return f"Proposal #{self.pk} for {self.request}"

    @cached_property
    def quality(self):
        """The model's own quality check from the card: verdict, summary, metric lines, plot."""
        from .qc import quality_check

        return quality_check(self.model_card)


class Outcome(models.TextChoices):
    APPROVE = "approve", "Approve"
    REJECT = "reject", "Reject"
    REQUEST_CHANGES = "request_changes", "Request changes"


class Meaning(models.TextChoices):
    """What a signature means (21 CFR Part 11 §11.50(a)(3))."""

    REVIEW = "review", "Review: I reviewed this result and recommend it"
    APPROVAL = "approval", "Approval: I approve this result for use"
    RESPONSIBILITY = "responsibility", "Responsibility: I take responsibility for this change"


# What the signer attests to by each meaning, shown in the signature dialog as they sign.
ATTESTATIONS = {
    Meaning.REVIEW: "I have reviewed this exact result, frame by frame, and recommend it for approval.",
    Meaning.APPROVAL: "I approve this exact result for use in the production, in place of the frames it replaces.",
    Meaning.RESPONSIBILITY: "I take responsibility for this change to the picture and its use in the production.",
}


class Decision(models.Model):
    """One person's decision on a proposal. An approval is an electronic signature: it carries the
    signer's printed name, the time and the meaning, and binds to the hashes of the proposal's
    media and model card (`record_hash`); `signature_hash` seals all of it together."""

    proposal = models.ForeignKey(Proposal, on_delete=models.PROTECT, related_name="decisions")
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    meaning = models.CharField(max_length=20, choices=Meaning.choices, blank=True)
    counts_as = models.CharField(max_length=20, blank=True)  # "recommendation", "approval" or ""
    final = models.BooleanField(default=False)
    signer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    printed_name = models.CharField(max_length=300)
    role = models.CharField(max_length=20)
    signed_at = models.DateTimeField()
    media_sha256 = models.CharField(max_length=64)
    model_card_sha256 = models.CharField(max_length=64)
    record_hash = models.CharField(max_length=64)
    signature_hash = models.CharField(max_length=64, blank=True)
    reason = models.TextField(blank=True)
    # The quality warning the signer confirmed they saw, when the proposal's own check did not
    # recommend it; part of what the signature seals.
    acknowledged_warning = models.TextField(blank=True)
    follow_up = models.OneToOneField(FixRequest, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="from_decision")

    class Meta:
        ordering = ["signed_at", "pk"]
        constraints = [
            # Whatever the race, a proposal is settled once.
            models.UniqueConstraint(fields=["proposal"], condition=Q(final=True), name="one_final_decision"),
            models.UniqueConstraint(fields=["proposal", "signer"], condition=Q(outcome="approve"),
                                    name="one_signature_per_signer"),
        ]

    def __str__(self):
        return f"{self.get_outcome_display()} by {self.printed_name} at {self.signed_at:%Y-%m-%d %H:%M:%S} UTC"

    @property
    def is_signature(self):
        return self.outcome == Outcome.APPROVE

    @property
    def manifestation(self):
        """The signature as every screen and export shows it (§11.50)."""
        meaning = self.get_meaning_display().split(":")[0] if self.meaning else self.get_outcome_display()
        return f"{self.printed_name} — {meaning} — {self.signed_at:%Y-%m-%d %H:%M:%S} UTC"

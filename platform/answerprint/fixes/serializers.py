"""The fix workflow over the wire: representations and the shapes of what clients send."""
from django.urls import reverse
from rest_framework import serializers

from answerprint.accounts.models import Role

from .kinds import ConsentType, kind_choices
from .models import (Consent, Decision, FixPolicy, FixPolicyChange, FixRequest, Guild, Job, Meaning, Outcome,
                     Proposal, SignerCapacity)
from .signatures import proposal_record_hash


class PersonSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.CharField(source="printed_name")


def _media_url(version, part):
    asset = getattr(version, "asset", None) if version is not None else None
    if asset is None or not getattr(asset, part):
        return None
    return reverse("media-file", args=[asset.pk, part])


class JobSerializer(serializers.ModelSerializer):
    class Meta:
        model = Job
        fields = ["id", "state", "progress", "stage", "queue", "deliveries", "max_deliveries", "worker", "device",
                  "time_limit_s", "queued_at", "started_at", "heartbeat_at", "finished_at", "error"]
        read_only_fields = fields


class DecisionSerializer(serializers.ModelSerializer):
    signer = PersonSerializer(read_only=True)
    meaning_label = serializers.SerializerMethodField()
    manifestation = serializers.CharField(read_only=True)

    class Meta:
        model = Decision
        fields = ["id", "outcome", "meaning", "meaning_label", "counts_as", "final", "signer", "printed_name", "role",
                  "signed_at", "manifestation", "media_sha256", "model_card_sha256", "record_hash", "signature_hash",
                  "reason", "acknowledged_warning", "follow_up"]
        read_only_fields = fields

    def get_meaning_label(self, decision) -> str:
        return decision.get_meaning_display() if decision.meaning else ""


class ProposalSerializer(serializers.ModelSerializer):
    version = serializers.SerializerMethodField()
    record_hash = serializers.SerializerMethodField()
    decisions = serializers.SerializerMethodField()
    standing = serializers.SerializerMethodField()
    policy_relaxations = serializers.SerializerMethodField()
    preview_url = serializers.SerializerMethodField()
    qc = serializers.SerializerMethodField()
    request = serializers.IntegerField(source="request_id")
    kind = serializers.CharField(source="request.kind")
    delivery_version = serializers.IntegerField(source="delivery_version_id", allow_null=True)

    class Meta:
        model = Proposal
        fields = ["id", "request", "kind", "state", "version", "first_frame", "media_sha256", "model_card",
                  "model_card_sha256", "record_hash", "metrics", "qc", "preview_url", "standing", "policy_relaxations",
                  "decisions",
                  "delivery_version", "decided_at", "created_at"]
        read_only_fields = fields

    def get_version(self, proposal) -> dict:
        version = proposal.version
        asset = getattr(version, "asset", None)
        return {"id": version.pk, "number": version.number, "state": version.state,
                "ingest": asset.status if asset else None,
                "poster_url": _media_url(version, "poster"), "proxy_url": _media_url(version, "proxy")}

    def get_record_hash(self, proposal) -> str:
        return proposal_record_hash(proposal)

    def get_qc(self, proposal) -> dict:
        """The model's own quality verdict: verdict, label, summary, metric lines, needs_acknowledgement."""
        return proposal.quality.as_dict()

    def get_decisions(self, proposal) -> list:
        decisions = getattr(proposal, "decision_list", None)
        if decisions is None:
            decisions = list(proposal.decisions.select_related("signer"))
        return DecisionSerializer(decisions, many=True).data

    def get_standing(self, proposal) -> dict:
        standing = getattr(proposal, "standing", None)
        if standing is None:
            return {}
        return {"recommendations": len(standing.recommendations), "needed_recommendations":
                standing.needed_recommendations, "approvals": len(standing.approvals),
                "needed_approvals": standing.needed_approvals, "summary": standing.describe()}

    def get_policy_relaxations(self, proposal) -> list[dict]:
        """Relaxations of the approval policy that this proposal is decided under."""
        return [{"id": change.pk, "relaxes": change.relaxes, "applied_at": change.applied_at,
                 "proposed_by": change.proposed_by.printed_name, "confirmed_by": change.confirmed_by.printed_name,
                 "reason": change.reason}
                for change in getattr(proposal, "policy_relaxations", [])]

    def get_preview_url(self, proposal) -> str | None:
        if not proposal.preview:
            return None
        return reverse("fix-proposal-preview", args=[proposal.request.production.code, proposal.pk])


class FixRequestSerializer(serializers.ModelSerializer):
    kind_label = serializers.CharField(source="get_kind_display")
    shot = serializers.CharField(source="shot.name")
    source_version = serializers.SerializerMethodField()
    requested_by = PersonSerializer()
    frames = serializers.SerializerMethodField()
    reference_shot = serializers.SerializerMethodField()
    job = serializers.SerializerMethodField()
    proposal = serializers.SerializerMethodField()

    class Meta:
        model = FixRequest
        fields = ["id", "kind", "kind_label", "category", "state", "shot", "source_version", "params", "frames",
                  "mask_annotation", "mask_sha256", "reference_shot", "reference_version", "replacement_version",
                  "performer", "consent", "reason", "origin", "follow_up_of", "requested_by", "job", "proposal",
                  "created_at", "updated_at"]
        read_only_fields = fields

    def get_source_version(self, fix) -> dict:
        return {"id": fix.source_version_id, "number": fix.source_version.number}

    def get_frames(self, fix) -> dict:
        return {"in": fix.frame_in, "out": fix.frame_out, "count": fix.frame_count,
                "first_shot_frame": fix.shot.first_frame + fix.frame_in,
                "last_shot_frame": fix.shot.first_frame + fix.frame_out}

    def get_reference_shot(self, fix) -> str | None:
        return fix.reference_shot.name if fix.reference_shot_id else None

    def get_job(self, fix) -> dict | None:
        job = getattr(fix, "latest_job", None)
        return JobSerializer(job).data if job else None

    def get_proposal(self, fix) -> dict | None:
        try:
            proposal = fix.proposal
        except Proposal.DoesNotExist:
            return None
        return {"id": proposal.pk, "state": proposal.state, "version": proposal.version_id,
                "poster_url": _media_url(proposal.version, "poster")}


class FixRequestDetailSerializer(FixRequestSerializer):
    jobs = serializers.SerializerMethodField()
    proposal = serializers.SerializerMethodField()

    class Meta(FixRequestSerializer.Meta):
        fields = FixRequestSerializer.Meta.fields + ["jobs", "mask_shape"]
        read_only_fields = fields

    def get_jobs(self, fix) -> list:
        return JobSerializer(fix.jobs_newest_first, many=True).data

    def get_proposal(self, fix) -> dict | None:
        proposal = getattr(fix, "current_proposal", None)
        return ProposalSerializer(proposal).data if proposal else None


class FixRequestInputSerializer(serializers.Serializer):
    source_version = serializers.IntegerField(help_text="The id of the version to fix (a plate or a proposal).")
    kind = serializers.ChoiceField(choices=kind_choices())
    params = serializers.DictField(required=False, default=dict, help_text="Per kind: see /fix-kinds/.")
    mask_annotation = serializers.UUIDField(required=False, allow_null=True,
                                            help_text="The id of a polygon, brush stroke, rectangle or ellipse.")
    frame_in = serializers.IntegerField(required=False, min_value=0, help_text="0 is the shot's first frame.")
    frame_out = serializers.IntegerField(required=False, min_value=0)
    reference_shot = serializers.CharField(required=False, allow_blank=True, help_text="Colour match: shot name.")
    replacement_version = serializers.IntegerField(required=False, allow_null=True,
                                                   help_text="Background replacement: the new background's version.")
    performer = serializers.CharField(required=False, allow_blank=True, max_length=200)
    reason = serializers.CharField(max_length=5000)
    op = serializers.RegexField(r"^[A-Za-z0-9._:-]{1,64}$", required=False,
                                help_text="Idempotency key: the same op from you again returns the first request.")


class FollowUpSerializer(serializers.Serializer):
    params = serializers.DictField(required=False)
    frame_in = serializers.IntegerField(required=False, min_value=0)
    frame_out = serializers.IntegerField(required=False, min_value=0)
    mask_annotation = serializers.UUIDField(required=False, allow_null=True)


class DecisionInputSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=Outcome.choices)
    meaning = serializers.ChoiceField(choices=Meaning.choices, required=False, allow_blank=True,
                                      help_text="Approve only: what your signature means.")
    password = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False,
                                     style={"input_type": "password"},
                                     help_text="Approve only: your password, re-entered to sign.")
    second_factor = serializers.CharField(required=False, allow_blank=True)
    record_hash = serializers.CharField(required=False, allow_blank=True,
                                        help_text="Approve only: the proposal's record_hash as you saw it.")
    reason = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    acknowledge_warning = serializers.BooleanField(
        required=False, default=False,
        help_text="Approve only: true to confirm you saw the proposal's quality warning (needed when its verdict "
                  "is not_recommended; sealed into the signature).")
    follow_up = FollowUpSerializer(required=False, allow_null=True,
                                   help_text="Request changes only: make the notes a new request with these changes.")


class ConsentSerializer(serializers.ModelSerializer):
    shots = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)
    recorded_by = PersonSerializer(read_only=True)
    revoked_by = PersonSerializer(read_only=True, allow_null=True)
    status = serializers.CharField(read_only=True)
    effective_from = serializers.DateTimeField(read_only=True)
    has_document = serializers.SerializerMethodField()

    class Meta:
        model = Consent
        fields = ["id", "performer", "guild", "consent_type", "scope", "kinds", "shots", "signed_by",
                  "signer_capacity", "document_sha256", "has_document", "signed_at", "notice_given_at",
                  "effective_from", "expires_at", "status", "revoked_at", "revoked_by", "revocation_reason",
                  "recorded_by", "recorded_at"]
        read_only_fields = fields

    def get_has_document(self, consent) -> bool:
        return bool(consent.document)


class ConsentInputSerializer(serializers.Serializer):
    performer = serializers.CharField(max_length=200)
    guild = serializers.ChoiceField(choices=Guild.choices, default=Guild.SAG_AFTRA)
    consent_type = serializers.ChoiceField(choices=ConsentType.CHOICES)
    scope = serializers.CharField()
    kinds = serializers.ListField(child=serializers.ChoiceField(choices=kind_choices()), allow_empty=False)
    shots = serializers.ListField(child=serializers.CharField(), allow_empty=False, help_text="Shot names.")
    signed_by = serializers.CharField(max_length=200)
    signer_capacity = serializers.ChoiceField(choices=SignerCapacity.choices, default=SignerCapacity.PERFORMER)
    signed_at = serializers.DateTimeField()
    notice_given_at = serializers.DateTimeField(required=False, allow_null=True)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)
    document = serializers.FileField(required=False, allow_null=True)
    document_sha256 = serializers.CharField(required=False, allow_blank=True, max_length=64)
    reason = serializers.CharField(required=False, allow_blank=True)


class FixReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=5000)


class PolicySerializer(serializers.Serializer):
    approver_roles = serializers.ListField(child=serializers.ChoiceField(choices=Role.choices), required=False)
    recommender_roles = serializers.ListField(child=serializers.ChoiceField(choices=Role.choices), required=False)
    required_recommendations = serializers.IntegerField(required=False, min_value=0, max_value=5)
    required_approvals = serializers.IntegerField(required=False, min_value=1, max_value=5)
    requester_may_approve = serializers.BooleanField(required=False)
    consent_kinds = serializers.ListField(child=serializers.ChoiceField(choices=kind_choices()), required=False)
    reason = serializers.CharField(required=False, allow_blank=True, write_only=True)

    def to_representation(self, policy):
        if isinstance(policy, FixPolicy):
            return {**policy.as_dict(), "updated_at": policy.updated_at if policy.pk else None}
        return super().to_representation(policy)


class FixKindSerializer(serializers.Serializer):
    """A fix kind as /fix-kinds/ lists it (kinds.Kind.describe, plus this production's consent rule)."""

    name = serializers.CharField()
    label = serializers.CharField()
    category = serializers.CharField()
    category_label = serializers.CharField()
    summary = serializers.CharField()
    available = serializers.BooleanField()
    needs_mask = serializers.BooleanField()
    mask_optional = serializers.BooleanField()
    needs_reference = serializers.BooleanField()
    reference_optional = serializers.BooleanField()
    needs_replacement = serializers.BooleanField()
    params = serializers.DictField(child=serializers.DictField(), help_text="name -> type, default, help, range")
    needs_consent = serializers.BooleanField()


class PolicyChangeSerializer(serializers.ModelSerializer):
    proposed_by = serializers.CharField(source="proposed_by.printed_name")
    confirmed_by = serializers.CharField(source="confirmed_by.printed_name", allow_null=True, default=None)

    class Meta:
        model = FixPolicyChange
        fields = ["id", "state", "before", "after", "relaxes", "reason", "proposed_by", "proposed_at",
                  "confirmed_by", "applied_at"]
        read_only_fields = fields


class PolicyChangeConfirmSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")

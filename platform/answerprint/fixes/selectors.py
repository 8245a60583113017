"""Reads of the fix workflow, always inside one production the caller belongs to."""
from django.db.models import Prefetch
from django.http import Http404

from .models import Consent, Decision, FixRequest, Job, Proposal, ProposalState
from .policy import applied_changes, can_sign_now, policy_for, policy_for_request, relaxations_reaching, standing

_JOBS_NEWEST_FIRST = Prefetch("jobs", queryset=Job.objects.order_by("-queued_at", "-pk"), to_attr="jobs_newest_first")
_DECISIONS = Prefetch("decisions", queryset=Decision.objects.select_related("signer", "follow_up").order_by(
    "signed_at", "pk"), to_attr="decision_list")


def _with_latest_job(requests):
    for fix in requests:
        fix.latest_job = fix.jobs_newest_first[0] if fix.jobs_newest_first else None
    return requests


def _proposal_of(fix):
    try:
        return fix.proposal
    except Proposal.DoesNotExist:
        return None


def requests_of(production, *, state=None, shot=None):
    queryset = (FixRequest.objects.filter(production=production)
                .select_related("shot", "source_version", "requested_by", "reference_shot", "proposal__version__asset")
                .prefetch_related(_JOBS_NEWEST_FIRST)
                .order_by("-created_at", "-pk"))
    if state:
        queryset = queryset.filter(state=state)
    if shot is not None:
        queryset = queryset.filter(shot=shot)
    return _with_latest_job(list(queryset))


def request_in(production, request_id):
    fix = (FixRequest.objects.filter(production=production, pk=request_id)
           .select_related("shot", "source_version__asset", "requested_by", "reference_shot", "reference_version",
                           "replacement_version__shot", "consent", "follow_up_of", "mask_annotation")
           .prefetch_related(_JOBS_NEWEST_FIRST).first())
    if fix is None:
        raise Http404("No such fix request.")
    fix.latest_job = fix.jobs_newest_first[0] if fix.jobs_newest_first else None
    fix.current_proposal = proposal_in(production, fix.proposal.pk) if _proposal_of(fix) else None
    return fix


def _proposals(production):
    return (Proposal.objects.filter(request__production=production)
            .select_related("request__production", "request__shot", "request__requested_by",
                            "request__source_version__asset",
                            "version__asset", "delivery_version", "job")
            .prefetch_related(_DECISIONS))


def proposal_in(production, proposal_id):
    proposal = _proposals(production).filter(pk=proposal_id).first()
    if proposal is None:
        raise Http404("No such proposal.")
    history = applied_changes(production)
    proposal.standing = standing(policy_for_request(proposal.request, history=history), proposal.decision_list)
    proposal.policy_relaxations = relaxations_reaching(proposal.request, history=history)
    return proposal


def approvals_waiting_on(user, membership, production):
    """Proposals the user can sign now (recommend or approve), oldest first, with what the list
    shows: the poster, the kind, who asked and why, and how far the policy's quorum is."""
    if membership is None:
        return []
    current, history = policy_for(production), applied_changes(production)
    waiting = []
    for proposal in _proposals(production).filter(state=ProposalState.PENDING).order_by("created_at", "pk"):
        policy = policy_for_request(proposal.request, current=current, history=history)
        counts_as = can_sign_now(policy=policy, role=membership.role, user=user, request=proposal.request,
                                 decisions=proposal.decision_list)
        if counts_as:
            proposal.standing = standing(policy, proposal.decision_list)
            proposal.signing_as = counts_as
            waiting.append(proposal)
    return waiting


def consents_of(production):
    return list(Consent.objects.filter(production=production)
                .select_related("recorded_by", "revoked_by")
                .prefetch_related("shots")
                .order_by("performer", "-signed_at", "-pk"))


def consent_in(production, consent_id):
    consent = Consent.objects.filter(production=production, pk=consent_id).first()
    if consent is None:
        raise Http404("No such consent.")
    return consent

"""The production's rules for fixes, evaluated: who may sign what, when a proposal is approved,
and whether a consent covers a request. Reads only; services.py acts on the answers."""
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.utils import timezone

from answerprint.accounts.models import Role
from answerprint.accounts.permissions import CAPABILITIES

from .kinds import CONSENT_TYPES_FOR, KINDS, Category
from .models import Consent, FixPolicy, FixPolicyChange, Meaning, Outcome, PolicyChangeState

SIGNING_ROLES = sorted(CAPABILITIES["decide"])  # only these reach a decision at all


def policy_for(production):
    """The production's policy; the defaults (unsaved) when it has none."""
    policy = FixPolicy.objects.filter(production=production).first()
    return policy or FixPolicy(production=production, **_defaults())


def _defaults():
    return {name: (list(value) if isinstance(value, list) else value) for name, value in FixPolicy.DEFAULTS.items()}


def clean_policy(values):
    """Check a policy's values together; returns them cleaned, or a ValidationError per field."""
    out = {**_defaults(), **values}
    errors = {}
    for name in ("approver_roles", "recommender_roles"):
        roles = out[name]
        if not isinstance(roles, list) or any(role not in Role.values for role in roles):
            errors[name] = f"Give a list of roles out of {', '.join(Role.values)}."
            continue
        cannot = [role for role in roles if role not in SIGNING_ROLES]
        if cannot:
            errors[name] = (f"{', '.join(cannot)} may not decide on fixes at all; choose among "
                            f"{', '.join(SIGNING_ROLES)}.")
        out[name] = sorted(set(roles))
    if not errors.get("approver_roles") and not out["approver_roles"]:
        errors["approver_roles"] = "At least one role must be able to approve."
    for name, lowest in (("required_approvals", 1), ("required_recommendations", 0)):
        value = out[name]
        if isinstance(value, bool) or not isinstance(value, int) or not lowest <= value <= 5:
            errors[name] = f"A whole number from {lowest} to 5."
    if out["required_recommendations"] and not out["recommender_roles"] and "recommender_roles" not in errors:
        errors["recommender_roles"] = "Recommendations are required, so name the roles that give them."
    if not isinstance(out["requester_may_approve"], bool):
        errors["requester_may_approve"] = "True or false."
    kinds = out["consent_kinds"]
    if not isinstance(kinds, list) or any(kind not in KINDS for kind in kinds):
        errors["consent_kinds"] = f"Give a list of fix kinds out of {', '.join(KINDS)}."
    else:
        out["consent_kinds"] = sorted(set(kinds))
    if errors:
        raise ValidationError(errors)
    return out


# ---------------------------------------------------------------- relaxations and their reach


def relaxed_settings(before, after):
    """The settings in which `after` asks less than `before`: these need a second person."""
    relaxed = []
    if after["requester_may_approve"] and not before["requester_may_approve"]:
        relaxed.append("requester_may_approve")
    for name in ("required_approvals", "required_recommendations"):
        if after[name] < before[name]:
            relaxed.append(name)
    for name in ("approver_roles", "recommender_roles"):
        if set(after[name]) - set(before[name]):
            relaxed.append(name)
    if set(before["consent_kinds"]) - set(after["consent_kinds"]):
        relaxed.append("consent_kinds")
    return relaxed


def strictest(current, then):
    """Per setting, whichever of two policies asks more."""
    approvers = sorted(set(current["approver_roles"]) & set(then["approver_roles"])) or current["approver_roles"]
    return {
        "approver_roles": approvers,
        "recommender_roles": sorted(set(current["recommender_roles"]) & set(then["recommender_roles"])),
        "required_recommendations": max(current["required_recommendations"], then["required_recommendations"]),
        "required_approvals": max(current["required_approvals"], then["required_approvals"]),
        "requester_may_approve": current["requester_may_approve"] and then["requester_may_approve"],
        "consent_kinds": sorted(set(current["consent_kinds"]) | set(then["consent_kinds"])),
    }


def applied_changes(production):
    return list(FixPolicyChange.objects.filter(production=production, state=PolicyChangeState.APPLIED)
                .select_related("proposed_by", "confirmed_by").order_by("applied_at", "pk"))


def _policy_at(moment, current, history):
    """The policy's values as they were at `moment`, from the applied changes."""
    earlier = [change for change in history if change.applied_at <= moment]
    if earlier:
        return earlier[-1].after
    return history[0].before if history else current


def policy_for_request(fix, *, current=None, history=None):
    """The policy a fix request is decided under: the production's policy now, except that a
    relaxation made after the request was asked for does not reach it (tightening always does).

    Pass `current` and `history` (applied_changes) when deciding many requests of one production.
    """
    policy = current or policy_for(fix.production)
    history = applied_changes(fix.production) if history is None else history
    values = strictest(policy.as_dict(), _policy_at(fix.created_at, policy.as_dict(), history))
    return FixPolicy(production=fix.production, **values)


def relaxations_reaching(fix, *, history=None):
    """The relaxations confirmed before this request was made: shown with every proposal they affect."""
    history = applied_changes(fix.production) if history is None else history
    effective = policy_for_request(fix, history=history).as_dict()
    return [change for change in history if change.relaxes and change.applied_at <= fix.created_at
            and any(effective[name] == change.after[name] for name in change.relaxes)]


# ---------------------------------------------------------------- consent


def needs_consent(policy, kind):
    return kind.category != Category.TECHNICAL or kind.name in (policy.consent_kinds or [])


def consent_types_for(kind):
    return CONSENT_TYPES_FOR[kind.category]


def normalise_performer(name):
    return " ".join((name or "").split())


def find_consent(*, production, shot, performer, kind, at=None):
    """(the consent in force that covers this use, None) or (None, the reason none does)."""
    at = at or timezone.now()
    performer = normalise_performer(performer)
    if not performer:
        return None, (f"{kind.label} alters a performance or likeness: name the performer, so that their "
                      f"consent can be checked.")
    candidates = [c for c in Consent.objects.filter(production=production).prefetch_related("shots")
                  if normalise_performer(c.performer).casefold() == performer.casefold()]
    if not candidates:
        return None, (f"No consent from {performer} is on file for this production: {kind.label.lower()} "
                      f"needs their written consent first.")
    types = consent_types_for(kind)
    problems = []
    for consent in candidates:
        label = f"consent #{consent.pk} ({consent.get_consent_type_display().lower()})"
        if consent.consent_type not in types:
            problems.append(f"{label} is not of a type that allows {kind.label.lower()}")
        elif kind.name not in (consent.kinds or []):
            problems.append(f"{label} does not allow {kind.label.lower()} in its scope")
        elif shot.pk not in {s.pk for s in consent.shots.all()}:
            problems.append(f"{label} does not cover shot {shot.name}")
        elif not consent.is_in_force(at):
            problems.append(f"{label} is not in force: {consent.why_not_in_force(at)}")
        else:
            return consent, ""
    return None, f"No consent from {performer} covers this: " + "; ".join(problems) + "."


# ---------------------------------------------------------------- signatures and quorum


@dataclass
class Standing:
    """Where a proposal stands against the policy."""

    recommendations: list = field(default_factory=list)
    approvals: list = field(default_factory=list)
    needed_recommendations: int = 0
    needed_approvals: int = 1

    @property
    def recommendations_complete(self):
        return len(self.recommendations) >= self.needed_recommendations

    @property
    def approved(self):
        return self.recommendations_complete and len(self.approvals) >= self.needed_approvals

    def describe(self):
        parts = []
        if self.needed_recommendations:
            parts.append(f"{len(self.recommendations)} of {self.needed_recommendations} recommendation(s)")
        parts.append(f"{len(self.approvals)} of {self.needed_approvals} approval(s)")
        return ", ".join(parts)


def standing(policy, decisions):
    signed = [d for d in decisions if d.outcome == Outcome.APPROVE]
    return Standing(
        recommendations=[d for d in signed if d.counts_as == "recommendation"],
        approvals=[d for d in signed if d.counts_as == "approval"],
        needed_recommendations=policy.required_recommendations,
        needed_approvals=policy.required_approvals,
    )


def _roles_text(roles):
    names = [Role(role).label for role in roles]
    return " or ".join(names) if names else "nobody"


def what_signature_counts_as(*, policy, role, meaning, user, request, decisions):
    """'recommendation' or 'approval' for this signature, or a ValidationError saying why the
    policy does not let it count."""
    if request.requested_by_id == user.pk and not policy.requester_may_approve:
        raise ValidationError("You asked for this fix: under this production's policy someone else must sign it.")
    if any(d.signer_id == user.pk and d.outcome == Outcome.APPROVE for d in decisions):
        raise ValidationError("You have already signed this proposal.")
    role_label = Role(role).label
    if meaning == Meaning.REVIEW:
        if role not in policy.recommender_roles:
            raise ValidationError(f"Under this production's policy a {role_label} may not recommend fixes; "
                                  f"{_roles_text(policy.recommender_roles)} may.")
        current = standing(policy, decisions)
        if current.recommendations_complete:
            raise ValidationError("This proposal already has every recommendation the policy asks for; "
                                  "it waits for approval.")
        return "recommendation"
    if meaning in (Meaning.APPROVAL, Meaning.RESPONSIBILITY):
        if role not in policy.approver_roles:
            hint = " You may recommend it (meaning: review)." if role in policy.recommender_roles else ""
            raise ValidationError(f"Under this production's policy a {role_label} may not approve fixes; "
                                  f"{_roles_text(policy.approver_roles)} may.{hint}")
        current = standing(policy, decisions)
        if not current.recommendations_complete:
            missing = current.needed_recommendations - len(current.recommendations)
            raise ValidationError(f"This proposal first needs {missing} more recommendation(s) from "
                                  f"{_roles_text(policy.recommender_roles)} (meaning: review) before it can be "
                                  f"approved.")
        return "approval"
    raise ValidationError({"meaning": f"Choose what your signature means: {', '.join(Meaning.values)}."})


def can_sign_now(*, policy, role, user, request, decisions):
    """What the user's signature would count as right now ('recommendation', 'approval'), or None
    when nothing they could sign would count: the approvals queue lists what waits on them."""
    for meaning in (Meaning.APPROVAL, Meaning.REVIEW):
        try:
            return what_signature_counts_as(policy=policy, role=role, meaning=meaning, user=user,
                                            request=request, decisions=decisions)
        except ValidationError:
            continue
    return None

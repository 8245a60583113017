"""Electronic signatures on the model of 21 CFR Part 11.

§11.200: the signer proves who they are again, in the request that signs (password, and the
second factor where they have one). §11.70: the signature binds to the exact record: the sha256
of the proposal's media and of its model card, sealed with the signer, meaning and time in
`signature_hash`, so a signature copied onto another proposal or left on a changed one no longer
verifies. §11.50: the printed name, time and meaning are stored with it and shown everywhere.
"""
import hashlib
import json
from datetime import timedelta, timezone as dt_timezone

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone
from django.utils.module_loading import import_string

from answerprint.accounts import lockout

# Failed signing attempts a user may make in the window before signing is refused for a while.
MAX_FAILED_ATTEMPTS = 5
FAILED_ATTEMPT_WINDOW = timedelta(minutes=15)


def canonical_json(value):
    return json.dumps(value, cls=DjangoJSONEncoder, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_hex(data):
    if isinstance(data, str):
        data = data.encode()
    return hashlib.sha256(data).hexdigest()


def model_card_hash(model_card):
    return sha256_hex(canonical_json(model_card))


def record_hash(*, proposal_id, version_id, media_sha256, model_card_sha256):
    """The hash of what is signed: this proposal, its media bytes and its model card."""
    return sha256_hex(canonical_json({
        "proposal": proposal_id, "version": version_id,
        "media_sha256": media_sha256, "model_card_sha256": model_card_sha256,
    }))


def proposal_record_hash(proposal):
    return record_hash(proposal_id=proposal.pk, version_id=proposal.version_id,
                       media_sha256=proposal.media_sha256, model_card_sha256=proposal.model_card_sha256)


def _utc(moment):
    return moment.astimezone(dt_timezone.utc).isoformat(timespec="microseconds")


def signature_hash(decision):
    sealed = {
        "record_hash": decision.record_hash, "proposal": decision.proposal_id, "signer": decision.signer_id,
        "printed_name": decision.printed_name, "role": decision.role, "outcome": decision.outcome,
        "meaning": decision.meaning, "signed_at": _utc(decision.signed_at),
    }
    if decision.acknowledged_warning:  # only then, so signatures made before it existed still verify
        sealed["acknowledged_warning"] = decision.acknowledged_warning
    return sha256_hex(canonical_json(sealed))


def verify_decision(decision, *, media_sha256=None):
    """Problems with a stored signature, [] when it holds. `media_sha256`: the hash of the media as
    read from storage now, to prove the bytes are still the ones signed."""
    proposal = decision.proposal
    problems = []
    expected = proposal_record_hash(proposal)
    if decision.record_hash != expected:
        problems.append("the signature is bound to a different record than this proposal")
    if (decision.media_sha256, decision.model_card_sha256) != (proposal.media_sha256, proposal.model_card_sha256):
        problems.append("the proposal's media or model card is not the one that was signed")
    if proposal.model_card_sha256 != model_card_hash(proposal.model_card):
        problems.append("the model card changed after it was hashed")
    if media_sha256 is not None and media_sha256 != decision.media_sha256:
        problems.append("the media in storage is not the media that was signed")
    if decision.is_signature and decision.signature_hash != signature_hash(decision):
        problems.append("the signature's seal does not match its printed name, meaning or time")
    return problems


def _second_factor_verifier():
    path = getattr(settings, "SIGNATURE_SECOND_FACTOR_VERIFIER", "")
    return import_string(path) if path else None


def check_credentials(user, password, second_factor=""):
    """Refuse unless the password and the second factor are right; return the factors used.

    The second factor is pluggable: settings.SIGNATURE_SECOND_FACTOR_VERIFIER names a callable
    (user, code) -> None when the user has no second factor, False for a wrong code, True or the
    factor's name for a right one. With SIGNATURE_REQUIRES_SECOND_FACTOR a user without one may
    not sign at all: a stolen password must not be enough to sign for a studio.
    """
    # The signing password is one more door to the same account: a lock from the log-in page
    # holds here, and wrong passwords (and codes) here count towards it.
    lock = lockout.lock_for(user.get_username())
    if lock:
        raise ValidationError({"password": f"{lock.message} Nothing was signed."})
    if not password or not user.check_password(password):
        lockout.record_failure(user.get_username(), where="signature", audit=False)
        raise ValidationError({"password": "The password is not correct: nothing was signed."})
    verifier = _second_factor_verifier()
    verdict = verifier(user, second_factor or "") if verifier is not None else None
    if verdict is None:
        if getattr(settings, "SIGNATURE_REQUIRES_SECOND_FACTOR", False):
            raise ValidationError({"second_factor": "Set up an authenticator (Two-step sign-in, under your name) "
                                                    "before you sign: a password alone cannot sign."})
        return ["password"]
    if verdict is False:
        lockout.record_failure(user.get_username(), where="signature", audit=False)
        raise ValidationError({"second_factor": "The second-factor code is not correct: nothing was signed."})
    return ["password", verdict if isinstance(verdict, str) else "second_factor"]


def recent_failures(user):
    from answerprint.audit.models import AuditEvent

    since = timezone.now() - FAILED_ATTEMPT_WINDOW
    return AuditEvent.objects.filter(action="signature.refused", actor=user, occurred_at__gte=since).count()

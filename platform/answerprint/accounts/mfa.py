"""A second factor for signing: TOTP (an authenticator app) with one-time recovery codes.

21 CFR 11.200(a) is met by a user ID and a password, but a stolen password must not be enough
to sign for a studio, so the production's signers (everyone whose role may decide) must enrol
before they sign, and every signature asks for the password and a current code. The signature's
audit event names the factors used.
"""
import base64
import hashlib
import hmac
import secrets

import pyotp
import segno
from cryptography.fernet import Fernet
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from answerprint.audit.services import record_event

from .models import RecoveryCode, TotpDevice

ISSUER = "Answerprint"
RECOVERY_CODES = 10
# A code from the step before or after also counts: phones and servers drift.
VALID_WINDOW = 1


def _fernet() -> Fernet:
    key = hashlib.sha256(b"answerprint-totp:" + settings.SECRET_KEY.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def _secret(device: TotpDevice) -> str:
    return _fernet().decrypt(device.encrypted_secret.encode()).decode()


def _hash(code: str) -> str:
    return hashlib.sha256(code.replace("-", "").replace(" ", "").lower().encode()).hexdigest()


def confirmed_device(user) -> TotpDevice | None:
    return TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).first()


def has_second_factor(user) -> bool:
    return confirmed_device(user) is not None


@transaction.atomic
def start_enrolment(user) -> TotpDevice:
    """A new, unconfirmed authenticator secret for `user` (replacing an unconfirmed one)."""
    if has_second_factor(user):
        raise ValidationError("You already have an authenticator: reset it first to set up another.")
    TotpDevice.objects.filter(user=user).delete()
    secret = pyotp.random_base32()
    return TotpDevice.objects.create(user=user, encrypted_secret=_fernet().encrypt(secret.encode()).decode())


def provisioning_uri(device: TotpDevice) -> str:
    return pyotp.TOTP(_secret(device)).provisioning_uri(name=device.user.get_username(), issuer_name=ISSUER)


def qr_svg(device: TotpDevice) -> str:
    """The otpauth:// URI as an inline SVG QR code, for the enrolment page."""
    return segno.make(provisioning_uri(device), error="m").svg_inline(scale=4, dark="#111316", light="#ffffff")


def secret_for_typing(device: TotpDevice) -> str:
    secret = _secret(device)
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def _accept_totp(device: TotpDevice, code: str) -> bool:
    code = (code or "").replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return False
    totp, now = pyotp.TOTP(_secret(device)), timezone.now()
    step = int(now.timestamp()) // totp.interval
    for candidate in range(step - VALID_WINDOW, step + VALID_WINDOW + 1):
        if candidate > device.last_used_step and hmac.compare_digest(totp.at(candidate * totp.interval), code):
            device.last_used_step = candidate
            device.save(update_fields=["last_used_step"])
            return True
    return False


@transaction.atomic
def confirm_enrolment(user, code: str) -> list[str]:
    """Confirm the new authenticator with a code from it; returns fresh recovery codes (shown once)."""
    device = TotpDevice.objects.select_for_update().filter(user=user, confirmed_at__isnull=True).first()
    if device is None:
        raise ValidationError("Start setting up an authenticator first.")
    if not _accept_totp(device, code):
        raise ValidationError({"code": "That code is not the one your authenticator shows now: try the next one."})
    device.confirmed_at = timezone.now()
    device.save(update_fields=["confirmed_at"])
    codes = _new_recovery_codes(user)
    record_event("mfa.enrolled", actor=user, target=user, after={"factor": "totp", "recovery_codes": len(codes)})
    return codes


def _new_recovery_codes(user) -> list[str]:
    RecoveryCode.objects.filter(user=user).delete()
    codes = [f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(RECOVERY_CODES)]
    RecoveryCode.objects.bulk_create([RecoveryCode(user=user, code_hash=_hash(code)) for code in codes])
    return codes


def check_second_factor(user, code: str) -> str | None:
    """The factor that `code` proves for `user` ("totp" or "recovery_code"), or None.

    A recovery code works once and is recorded when used.
    """
    with transaction.atomic():
        device = TotpDevice.objects.select_for_update().filter(user=user, confirmed_at__isnull=False).first()
        if device is None:
            return None
        if _accept_totp(device, code):
            return "totp"
        recovery = RecoveryCode.objects.select_for_update().filter(
            user=user, code_hash=_hash(code or ""), used_at__isnull=True).first()
        if recovery is None or not (code or "").strip():
            return None
        recovery.used_at = timezone.now()
        recovery.save(update_fields=["used_at"])
        left = RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()
        record_event("mfa.recovery_code_used", actor=user, target=user, after={"recovery_codes_left": left})
        return "recovery_code"


def verify_second_factor(user, code: str) -> str | bool | None:
    """The signature's second-factor hook (settings.SIGNATURE_SECOND_FACTOR_VERIFIER): None when
    the user has no authenticator, False for a wrong code, else the factor the code proved."""
    if not has_second_factor(user):
        return None
    return check_second_factor(user, code) or False


@transaction.atomic
def reset_second_factor(*, user, password: str, code: str, reason: str = "") -> None:
    """Remove the user's authenticator, proven by their password and a code or a recovery code."""
    if not has_second_factor(user):
        raise ValidationError("You have no authenticator to reset.")
    if not user.check_password(password or ""):
        raise ValidationError({"password": "The password is not correct: nothing was reset."})
    factor = check_second_factor(user, code)
    if factor is None:
        raise ValidationError({"code": "Give a code from your authenticator or one of your recovery codes."})
    TotpDevice.objects.filter(user=user).delete()
    RecoveryCode.objects.filter(user=user).delete()
    record_event("mfa.reset", actor=user, target=user, after={"proven_with": ["password", factor]}, reason=reason)


@transaction.atomic
def remove_second_factor_for(*, actor, user, reason: str) -> None:
    """Studio staff remove the authenticator of someone who lost it and their recovery codes.

    The person then sets up a new one before they sign again; the reason is required and kept.
    """
    if not getattr(actor, "is_staff", False):
        raise ValidationError("Only studio staff may remove someone else's authenticator.")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why (for example how the person's identity was checked)."})
    if not TotpDevice.objects.filter(user=user).exists():
        raise ValidationError(f"{user} has no authenticator.")
    TotpDevice.objects.filter(user=user).delete()
    RecoveryCode.objects.filter(user=user).delete()
    record_event("mfa.reset", actor=actor, target=user, after={"removed_by_staff": True}, reason=reason)

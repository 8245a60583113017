"""API tokens for tools: named, expiring, revocable by their owner, stored as hashes, audited.

A key is made once (`ap_` and 40 random characters), shown once, and kept only as its sha256,
so a copy of the database signs nobody in. Every request made with a token is recorded: a token
is a credential used without a person at the keyboard. The first use within each minute is
written to the audit log with the running count; the count covers the uses in between, so a busy
pipeline tool cannot bloat the log.
"""
import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from answerprint.audit.services import record_event

from .models import ApiToken

KEY_PREFIX = "ap_"
USE_AUDIT_INTERVAL = timedelta(minutes=1)


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def create_token(*, actor, name: str, days: int | None = None) -> tuple[ApiToken, str]:
    """Make a token for `actor`; returns it and its key, which is never shown again."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Name the token after the tool or machine that will use it."})
    days = settings.API_TOKEN_DAYS if days is None else days
    if not 1 <= days <= settings.API_TOKEN_MAX_DAYS:
        raise ValidationError({"days": f"A token lasts from 1 to {settings.API_TOKEN_MAX_DAYS} days."})
    key = KEY_PREFIX + secrets.token_urlsafe(30)
    token = ApiToken.objects.create(user=actor, name=name[:100], key_hash=_hash(key), prefix=key[:10],
                                    expires_at=timezone.now() + timedelta(days=days))
    record_event("api_token.created", actor=actor, target=token,
                 after={"name": token.name, "prefix": token.prefix, "expires_at": token.expires_at.isoformat()})
    return token, key


@transaction.atomic
def revoke_token(*, actor, token: ApiToken) -> ApiToken:
    token = ApiToken.objects.select_for_update().get(pk=token.pk)
    if token.user_id != actor.pk:
        raise ValidationError("Only the token's owner may revoke it.")
    if token.revoked_at is not None:
        raise ValidationError("This token was already revoked.")
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    record_event("api_token.revoked", actor=actor, target=token, after={"name": token.name, "prefix": token.prefix})
    return token


def _usable_token(key: str) -> ApiToken | None:
    token = ApiToken.objects.select_related("user").filter(key_hash=_hash(key or "")).first()
    if token is None or not token.is_usable or not token.user.is_active:
        return None
    return token


def key_is_usable(key: str) -> bool:
    """Whether a key would sign someone in (for checks before a request, not a use)."""
    return _usable_token(key) is not None


def user_for_key(key: str, *, where: str):
    """The active user a usable key belongs to, recording the use; None for anything else."""
    token = _usable_token(key)
    if token is None:
        return None
    _record_use(token, where)
    return token.user


def _record_use(token: ApiToken, where: str) -> None:
    now = timezone.now()
    with transaction.atomic():
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now, uses=F("uses") + 1)
        token.refresh_from_db(fields=["uses", "audited_uses", "last_audited_at"])
        if token.last_audited_at is None or now - token.last_audited_at >= USE_AUDIT_INTERVAL:
            record_event("api_token.used", actor=token.user, target=token, after={
                "name": token.name, "prefix": token.prefix, "where": where,
                "uses_since_last_entry": token.uses - token.audited_uses})
            ApiToken.objects.filter(pk=token.pk).update(last_audited_at=now, audited_uses=token.uses)


class ApiTokenAuthentication(TokenAuthentication):
    """`Authorization: Token <key>` against the hashed tokens."""

    def authenticate_credentials(self, key):
        user = user_for_key(key, where="api")
        if user is None:
            raise AuthenticationFailed("Invalid, expired or revoked token.")
        return user, None

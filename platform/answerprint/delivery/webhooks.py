"""Webhooks: other systems hear about a production's proposals, decisions, deliveries, comments
and ingested versions.

Each event becomes a WebhookDelivery row per subscribed endpoint in the same transaction as the
change that caused it (the audit log's listener: the row and the change commit together, so a
restarted worker or Redis loses nothing). After commit one task sends it at once; the beat sweep
sends whatever is due again, with exponential backoff, until the receiver answers 2xx or
MAX_ATTEMPTS are spent.

Requests are POSTs of JSON, signed like this (a receiver checks with `verify_signature`):

    Answerprint-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>

A receiver refuses a timestamp older than its replay window (5 minutes by default), so a request
caught on the wire cannot be replayed later; the delivery id (`Answerprint-Delivery`) is the
same on every retry, for receivers that keep the ones they have seen.
"""
import hashlib
import hmac
import json
import logging
import secrets
import time
import urllib.error
import urllib.request
from datetime import timedelta
from functools import partial
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from answerprint.accounts.permissions import require
from answerprint.audit.services import record_event

from .models import DeliveryState, WebhookDelivery, WebhookEndpoint, WebhookEvent

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "Answerprint-Signature"
REPLAY_WINDOW_SECONDS = 300
MAX_ATTEMPTS = 8
FIRST_RETRY_SECONDS = 30
MAX_RETRY_SECONDS = 6 * 3600
TIMEOUT_SECONDS = 10
SWEEP_BATCH = 100

# The audit action that a webhook event follows.
EVENT_FOR_ACTION = {
    "proposal.created": WebhookEvent.PROPOSAL_READY,
    "proposal.approved": WebhookEvent.DECISION_MADE,
    "proposal.rejected": WebhookEvent.DECISION_MADE,
    "proposal.changes_requested": WebhookEvent.DECISION_MADE,
    "delivery.packaged": WebhookEvent.DELIVERY_CREATED,
    "comment.created": WebhookEvent.COMMENT_CREATED,
    "media.ingested": WebhookEvent.VERSION_INGESTED,
}


# ---------------------------------------------------------------------------------------------
# Signing


def sign(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_signature(secret: str, header: str, body: bytes, *, now: float | None = None,
                     window: int = REPLAY_WINDOW_SECONDS) -> bool:
    """What a receiver runs: the signature matches this body and secret, and was made within
    `window` seconds of now (either side)."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > window:
        return False
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


# ---------------------------------------------------------------------------------------------
# Endpoints (producers manage them)


def _clean(url: str, events) -> tuple[str, list[str]]:
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError({"url": "Give the receiver's full http:// or https:// address."})
    events = sorted(set(events or []))
    unknown = [e for e in events if e not in WebhookEvent.values]
    if unknown or not events:
        raise ValidationError({"events": f"Choose one or more of {', '.join(WebhookEvent.values)}."})
    return url, events


def create_endpoint(*, actor, production, membership, url, events, description="") -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its secret, which the caller shows once."""
    require(membership, "edit_production")
    url, events = _clean(url, events)
    secret = f"whsec_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(production=production, url=url, events=events, secret=secret,
                                                  description=(description or "").strip()[:200], created_by=actor)
        record_event("webhook.created", actor=actor, production=production, target=endpoint,
                     after={"url": url, "events": events, "description": endpoint.description})
    return endpoint, secret


def rotate_secret(*, actor, endpoint, membership) -> str:
    require(membership, "edit_production")
    secret = f"whsec_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(secret=secret)
        record_event("webhook.secret_rotated", actor=actor, production=endpoint.production, target=endpoint,
                     after={"url": endpoint.url})
    endpoint.secret = secret
    return secret


def set_active(*, actor, endpoint, membership, active: bool) -> WebhookEndpoint:
    require(membership, "edit_production")
    with transaction.atomic():
        before = endpoint.active
        endpoint.active = active
        endpoint.save(update_fields=["active"])
        record_event("webhook.changed", actor=actor, production=endpoint.production, target=endpoint,
                     before={"active": before}, after={"active": active, "url": endpoint.url})
    return endpoint


def send_test(*, actor, endpoint, membership) -> WebhookDelivery:
    """A `ping` to one endpoint, sent now; the log shows how the receiver answered."""
    require(membership, "edit_production")
    payload = _payload("ping", endpoint.production, {"message": "A test from Answerprint.",
                                                     "sent_by": actor.printed_name})
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event="ping", payload=payload,
                                              next_attempt_at=timezone.now())
    return send(delivery.pk)


# ---------------------------------------------------------------------------------------------
# Queueing (inside the change's transaction) and sending


def _payload(event: str, production, data: dict) -> dict:
    return {"type": event, "created_at": timezone.now().isoformat(), "production": production.code, "data": data}


def queue_for_audit_event(event) -> None:
    """The audit log's listener: queue `event`'s webhook for every endpoint that wants it."""
    kind = EVENT_FOR_ACTION[event.action]
    if event.production_id is None:
        return
    endpoints = [e for e in WebhookEndpoint.objects.filter(production_id=event.production_id, active=True)
                 .select_related("production") if kind in e.events]
    if not endpoints:
        return
    data = {"action": event.action, "target": {"type": event.target_type, "id": event.target_id,
                                               "name": event.target_repr},
            "actor": event.actor_name, "role": event.actor_role, "reason": event.reason, "details": event.after}
    now = timezone.now()
    made = WebhookDelivery.objects.bulk_create([
        WebhookDelivery(endpoint=e, event=kind, payload=json.loads(json.dumps(
            _payload(kind, e.production, data), cls=DjangoJSONEncoder)), next_attempt_at=now)
        for e in endpoints])
    for delivery in made:
        transaction.on_commit(partial(_enqueue_send, delivery.pk))


def _enqueue_send(delivery_id) -> None:
    from . import tasks

    try:
        tasks.send_webhook.delay(str(delivery_id))
    except Exception:  # the row stays pending: the sweep sends it
        log.exception("Could not enqueue webhook delivery %s; the sweep will send it", delivery_id)


def retry_delay(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, 4 min ... at most 6 hours."""
    return timedelta(seconds=min(FIRST_RETRY_SECONDS * 2 ** max(attempts - 1, 0), MAX_RETRY_SECONDS))


def _post(url: str, body: bytes, headers: dict) -> tuple[int | None, str]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 (http(s) only)
            return response.status, ""
    except urllib.error.HTTPError as error:
        return error.code, f"HTTP {error.code} {error.reason}"
    except (urllib.error.URLError, OSError) as error:
        return None, f"{type(error).__name__}: {getattr(error, 'reason', error)}"


def send(delivery_id) -> WebhookDelivery | None:
    """Send one due delivery now and record how the receiver answered. Rows locked by another
    sender, or not due, are left alone."""
    with transaction.atomic():
        delivery = (WebhookDelivery.objects.select_for_update(skip_locked=True).select_related("endpoint")
                    .filter(pk=delivery_id, state=DeliveryState.PENDING, next_attempt_at__lte=timezone.now()).first())
        if delivery is None:
            return None
        endpoint = delivery.endpoint
        body = json.dumps({"id": str(delivery.pk), **delivery.payload}, sort_keys=True).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "Answerprint-Webhooks/1",
                   "Answerprint-Event": delivery.event, "Answerprint-Delivery": str(delivery.pk),
                   SIGNATURE_HEADER: sign(endpoint.secret, body, int(time.time()))}
        # The row stays locked while the request is in flight, so two sweeps never send it twice.
        code, error = _post(endpoint.url, body, headers) if endpoint.active else (None, "The endpoint is disabled.")
        now = timezone.now()
        delivery.attempts += 1
        delivery.last_attempt_at, delivery.response_code, delivery.error = now, code, error
        if code is not None and 200 <= code < 300:
            delivery.state, delivery.delivered_at = DeliveryState.DELIVERED, now
        elif delivery.attempts >= MAX_ATTEMPTS or not endpoint.active:
            delivery.state = DeliveryState.FAILED
        else:
            delivery.next_attempt_at = now + retry_delay(delivery.attempts)
        delivery.save(update_fields=["attempts", "last_attempt_at", "response_code", "error", "state",
                                     "delivered_at", "next_attempt_at"])
    return delivery


def sweep(limit: int = SWEEP_BATCH) -> int:
    """Send every pending delivery that is due (the beat task); returns how many were tried."""
    due = list(WebhookDelivery.objects.filter(state=DeliveryState.PENDING, next_attempt_at__lte=timezone.now())
               .order_by("next_attempt_at").values_list("pk", flat=True)[:limit])
    return sum(1 for pk in due if send(pk) is not None)

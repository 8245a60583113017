"""Rate limits on API writes: per signed-in user, and per production across all its members.

Reads are not limited here. Every write is a permanent audit event, so a script (or a stolen
token) posting hundreds of comments a second would bloat the production's log; the limits keep
that to what people and pipeline tools really do. The counts live in the shared cache (Redis in
production), so they hold across web processes.
"""
import logging
import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.permissions import SAFE_METHODS
from rest_framework.throttling import SimpleRateThrottle

log = logging.getLogger(__name__)


class UserWriteThrottle(SimpleRateThrottle):
    scope = "user_writes"

    def allow_request(self, request, view):
        if request.method in SAFE_METHODS:
            return True
        try:
            return super().allow_request(request, view)
        except Exception:  # noqa: BLE001 - the shared cache (Redis) is down
            # A limit that cannot be counted is not applied: a Redis restart must not refuse
            # every write (the work itself survives it, see the outbox).
            log.warning("Write rate limit not checked: the cache is unreachable", exc_info=True)
            return True

    def get_cache_key(self, request, view):
        if not request.user.is_authenticated:
            return None  # refused by authentication anyway
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


class ProductionWriteThrottle(UserWriteThrottle):
    """One budget per production, counted only for its members: an outsider's requests to a
    production's address (404 for them) must not spend that production's budget."""

    scope = "production_writes"

    def get_cache_key(self, request, view):
        code = getattr(view, "kwargs", {}).get("code")
        if not code or not request.user.is_authenticated:
            return None
        from answerprint.accounts.models import Membership

        if not Membership.objects.active().filter(user=request.user, production__code=code).exists():
            return None
        return self.cache_format % {"scope": self.scope, "ident": code}


def review_ops_wait(user_id: int) -> float:
    """Seconds a user must wait before another stored review-room operation; 0 to go ahead.

    Each connection has its own token bucket; this budget is the user's across all their
    connections and web processes (a fixed window in the shared cache), so opening twenty
    sockets does not buy twenty times the writes.
    """
    limit, window = settings.REVIEW_WS_USER_OPS
    now = time.time()
    slot = int(now // window)
    key = f"review-ops:{user_id}:{slot}"
    try:
        cache.add(key, 0, timeout=int(window * 2))
        count = cache.incr(key)
    except Exception:  # noqa: BLE001 - the shared cache (Redis) is down: do not refuse the work
        log.warning("Review-room rate limit not checked: the cache is unreachable", exc_info=True)
        return 0.0
    if count <= limit:
        return 0.0
    return (slot + 1) * window - now

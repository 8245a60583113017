"""Rate limits on API writes: per signed-in user, and per production across all its members.

Reads are not limited here. Every write is a permanent audit event, so a script (or a stolen
token) posting hundreds of comments a second would bloat the production's log; the limits keep
that to what people and pipeline tools really do. The counts live in the shared cache (Redis in
production), so they hold across web processes.
"""
from rest_framework.permissions import SAFE_METHODS
from rest_framework.throttling import SimpleRateThrottle


class UserWriteThrottle(SimpleRateThrottle):
    scope = "user_writes"

    def allow_request(self, request, view):
        if request.method in SAFE_METHODS:
            return True
        return super().allow_request(request, view)

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

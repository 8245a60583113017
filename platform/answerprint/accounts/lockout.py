"""Lock-out after repeated wrong passwords, per account name and per client address.

Every place a password is typed — the log-in page, the admin log-in and the signing dialog —
counts its failures here, and a lock from any of them holds at all of them until the cool-down
ends. Failures keep counting while a lock holds; one that comes while the count is still fresh
(within the cool-down of the last) locks again, so a steady flood never gets a free window.

The audit log gets the first failure of a run, every lock, and the running total at 10, 100,
1000… failures: a million guesses cost a handful of events, and the total is on the next one.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from answerprint.audit.context import current_request
from answerprint.audit.services import record_event

from .models import CredentialFailures

Scope = CredentialFailures.Scope


def _limits() -> dict[str, int]:
    return {Scope.ACCOUNT: settings.LOGIN_ACCOUNT_FAILURE_LIMIT, Scope.ADDRESS: settings.LOGIN_ADDRESS_FAILURE_LIMIT}


def _cooldown() -> timedelta:
    return timedelta(seconds=settings.LOGIN_COOLDOWN_SECONDS)


def _keys(username: str, address: str) -> list[tuple[str, str]]:
    keys = [(Scope.ACCOUNT, (username or "").strip().lower()[:150])]
    if address:
        keys.append((Scope.ADDRESS, address[:150]))
    return [(scope, key) for scope, key in keys if key]


def client_address() -> str:
    """The address of the request being served (the audit context carries it), or ''."""
    return current_request.get().ip


@dataclass(frozen=True)
class LockedOut:
    until: datetime

    @property
    def message(self) -> str:
        minutes = max(1, round((self.until - timezone.now()).total_seconds() / 60))
        return (f"Too many wrong passwords for this account or from this address: try again in {minutes} "
                f"minute{'s' if minutes != 1 else ''} (at {self.until:%H:%M} UTC).")


def lock_for(username: str, address: str | None = None) -> LockedOut | None:
    """The lock that holds now for this account name or this address, if any."""
    address = client_address() if address is None else address
    now = timezone.now()
    until = None
    for scope, key in _keys(username, address):
        row = CredentialFailures.objects.filter(scope=scope, key=key, locked_until__gt=now).first()
        if row and (until is None or row.locked_until > until):
            until = row.locked_until
    return LockedOut(until) if until else None


def _is_milestone(count: int) -> bool:
    return count >= 10 and str(count).rstrip("0") == "1"


def record_failure(username: str, *, where: str, address: str | None = None, audit: bool = True) -> LockedOut | None:
    """Count one wrong password; return the lock it leaves in force, if any.

    `where` says which door was tried ("login", "admin", "signature"). With `audit`, the run's
    first failure, each new lock and each milestone are recorded; the signing service records
    its own refusals, so it passes audit=False.
    """
    address = client_address() if address is None else address
    now, cooldown, limits = timezone.now(), _cooldown(), _limits()
    counts, newly_locked = {}, False
    with transaction.atomic():
        for scope, key in _keys(username, address):
            row, _ = CredentialFailures.objects.select_for_update().get_or_create(
                scope=scope, key=key, defaults={"last_failed_at": now})
            if row.last_failed_at < now - cooldown:
                row.failures = 0  # an old run of failures has been forgiven
            row.failures += 1
            row.last_failed_at = now
            if row.failures >= limits[scope] and not (row.locked_until and row.locked_until > now):
                row.locked_until = now + cooldown
                newly_locked = True
            row.save()
            counts[scope] = (row.failures, row.locked_until if row.locked_until and row.locked_until > now else None)
        if audit and (newly_locked or any(count == 1 or _is_milestone(count) for count, _ in counts.values())):
            account, address_count = counts.get(Scope.ACCOUNT, (0, None)), counts.get(Scope.ADDRESS, (0, None))
            locked = max((until for _, until in counts.values() if until), default=None)
            # Never the password: only the name that was tried and the counts.
            record_event("auth.login_failed", actor_name="anonymous", after={
                "username": (username or "")[:150], "where": where, "account_failures": account[0],
                "address_failures": address_count[0], "locked_until": locked.isoformat() if locked else None,
            })
    locks = [until for _, until in counts.values() if until]
    return LockedOut(max(locks)) if locks else None


def forget_account_failures(username: str) -> None:
    """A correct log-in ends the account's run of failures (the address keeps its count)."""
    CredentialFailures.objects.filter(scope=Scope.ACCOUNT, key=(username or "").strip().lower()).delete()

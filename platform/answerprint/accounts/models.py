from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone


class User(AbstractUser):
    """A person. `full_name` is the printed name that every signature of theirs shows."""

    full_name = models.CharField(max_length=200, blank=True)

    @property
    def printed_name(self):
        return self.full_name or self.get_full_name() or self.username

    def __str__(self):
        return self.printed_name


class Role(models.TextChoices):
    PRODUCER = "producer", "Producer"
    SUPERVISOR = "supervisor", "Supervisor"
    EDITOR = "editor", "Editor"
    COMPLIANCE = "compliance", "Compliance"
    VIEWER = "viewer", "Viewer"


production_code_validator = RegexValidator(
    r"^[a-z0-9][a-z0-9-]{1,39}$", "Use 2-40 lowercase letters, digits and hyphens, starting with a letter or digit."
)


class Production(models.Model):
    """A film or a series: the boundary of access, policy and consent."""

    code = models.CharField(max_length=40, unique=True, validators=[production_code_validator])
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    # The production's timeline rate, as a ratio (24000/1001, never 23.976).
    fps_num = models.PositiveIntegerField(default=24)
    fps_den = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["title"]

    def __str__(self):
        return self.title


class MembershipQuerySet(models.QuerySet):
    def active(self, at=None):
        at = at or timezone.now()
        return self.filter(revoked_at__isnull=True).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=at))


class Membership(models.Model):
    """A user's role in one production. External reviewers get an expiry; anyone can be revoked."""

    production = models.ForeignKey(Production, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["production", "user"], name="one_membership_per_user")]

    def __str__(self):
        return f"{self.user} — {self.get_role_display()} on {self.production}"

    @property
    def is_active(self):
        now = timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class CredentialFailures(models.Model):
    """Failed password entries counted for one account name or one client address.

    One row per account name (as typed, lower-cased: names that do not exist are counted too,
    so a lock says nothing about which names exist) and one per address. Log-in, the admin
    log-in and the signing password all count here, so guessing at one of them cannot go on
    at another.
    """

    class Scope(models.TextChoices):
        ACCOUNT = "account", "Account"
        ADDRESS = "address", "Address"

    scope = models.CharField(max_length=10, choices=Scope.choices)
    key = models.CharField(max_length=150)
    failures = models.PositiveIntegerField(default=0)
    last_failed_at = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="one_failure_count_per_key")]

    def __str__(self):
        return f"{self.scope} {self.key}: {self.failures}"


class TotpDevice(models.Model):
    """A user's authenticator app (RFC 6238 TOTP). The shared secret is stored encrypted.

    Confirmed once the user has typed a code from it; only then does it count as a factor.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="totp_device")
    encrypted_secret = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    # The last time step a code was accepted for: a code seen once is never accepted again.
    last_used_step = models.BigIntegerField(default=0)

    def __str__(self):
        return f"Authenticator of {self.user}"


class RecoveryCode(models.Model):
    """A one-time code for when the authenticator is lost; only its hash is kept."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recovery_codes")
    code_hash = models.CharField(max_length=64)
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"Recovery code of {self.user}"


class ApiToken(models.Model):
    """A named key for tools. Only the key's sha256 is stored: the key itself is shown once."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=12, help_text="The key's first characters, to tell keys apart.")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Uses are counted here and written to the audit log in aggregate (accounts/tokens.py).
    uses = models.PositiveBigIntegerField(default=0)
    audited_uses = models.PositiveBigIntegerField(default=0)
    last_audited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…) of {self.user}"

    @property
    def is_usable(self):
        return self.revoked_at is None and self.expires_at > timezone.now()

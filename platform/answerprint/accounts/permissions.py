"""Who may do what inside a production: one table, checked on every action."""
from django.core.exceptions import PermissionDenied

from .models import Role

P, S, E, C, V = Role.PRODUCER, Role.SUPERVISOR, Role.EDITOR, Role.COMPLIANCE, Role.VIEWER

CAPABILITIES = {
    "view": {P, S, E, C, V},
    "ingest": {P, S, E},  # upload, register by path, import a timeline, retry an ingest
    "download_original": {P, S, E},
    "manage_members": {P},
    "edit_production": {P},
    "annotate": {P, S, E},
    "comment": {P, S, E, V},
    "request_fix": {P, S},
    "decide": {P, S},  # which of these may approve is the production's policy
    "view_audit": {P, C},
    "manage_consent": {P, C},
}


def can(membership, capability):
    if capability not in CAPABILITIES:
        raise ValueError(f"unknown capability {capability!r}")
    return membership is not None and membership.role in CAPABILITIES[capability]


def require(membership, capability):
    if not can(membership, capability):
        role = membership.get_role_display() if membership else "non-member"
        raise PermissionDenied(f"A {role} may not {capability.replace('_', ' ')} in this production.")

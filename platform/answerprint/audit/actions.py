"""Every action the audit log records: its name, the app that writes it, and what it means.

The compliance pages describe events from here, and tests/audit/test_actions_registry.py reads
the code for every `record_event(...)` call and fails when an action is written but not listed
here, or listed here but written nowhere. A new audited change therefore needs a line here.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class AuditedAction:
    app: str
    description: str
    read: bool = False  # a read that matters (an export, a download of an original)


_A = AuditedAction

ACTIONS = {
    # accounts
    "auth.logged_in": _A("accounts", "Signed in"),
    "auth.logged_out": _A("accounts", "Signed out"),
    "auth.login_failed": _A("accounts", "A sign-in was refused (the name tried is kept, never the password)"),
    "mfa.enrolled": _A("accounts", "Someone set up an authenticator (second factor) and got recovery codes"),
    "mfa.recovery_code_used": _A("accounts", "A one-time recovery code was used in place of the authenticator"),
    "mfa.reset": _A("accounts", "Someone removed their authenticator, proven by password and code"),
    "api_token.created": _A("accounts", "Someone made an API token (only its hash is kept)"),
    "api_token.revoked": _A("accounts", "An API token was revoked by its owner"),
    "api_token.used": _A("accounts", "An API token was used (with the count of uses since the last entry)"),
    "production.created": _A("accounts", "A production was opened"),
    "production.updated": _A("accounts", "A production's title, description or frame rate changed"),
    "membership.granted": _A("accounts", "Someone was given a role on a production"),
    "membership.changed": _A("accounts", "Someone's role or access expiry changed"),
    "membership.revoked": _A("accounts", "Someone's access to a production was revoked"),
    # audit
    "audit.exported": _A("audit", "The audit log was exported", read=True),
    "audit.disclosure_exported": _A("audit", "The AI-disclosure report was taken", read=True),
    "audit.export_stored": _A("audit", "A scheduled export was made and stored write-once"),
    "audit.stored_export_downloaded": _A("audit", "A stored export was downloaded", read=True),
    "audit.stored_export_altered": _A("audit", "A stored export's bytes no longer matched its hash: not served",
                                      read=True),
    "export_schedule.created": _A("audit", "An export schedule was set"),
    "export_schedule.stopped": _A("audit", "An export schedule was stopped"),
    "export_schedule.failed": _A("audit", "A scheduled export failed; it is tried again at the next beat"),
    "audit.checkpoint_created": _A("audit", "A signed checkpoint was made on request"),
    "audit.verified": _A("audit", "The audit log's chain and checkpoints were verified", read=True),
    # media
    "shot.created": _A("media", "A shot was created"),
    "shot.updated": _A("media", "A shot's details changed"),
    "media.uploaded": _A("media", "Original media was uploaded"),
    "media.registered": _A("media", "Original media was registered by path"),
    "media.upload_refused": _A("media", "An upload was refused"),
    "media.ingested": _A("media", "Ingest finished: probe, proxy and thumbnails made"),
    "media.ingest_failed": _A("media", "Ingest failed; the original is kept with the reason"),
    "media.ingest_retried": _A("media", "Ingest was retried"),
    "media.ingest_resent": _A("media", "A stuck ingest was sent to the queue again on request"),
    "media.original_downloaded": _A("media", "An original was downloaded", read=True),
    "media.version_deleted": _A("media", "A failed upload was deleted by its uploader; its original is kept"),
    "timeline.imported": _A("media", "A timeline was imported (the report of every event is kept with it)"),
    "shot.locator_added": _A("media", "An editor's locator from a timeline was put on a shot"),
    "user.created": _A("media", "A user account was created (the demo seed)"),
    # review
    "annotation.created": _A("review", "A drawing was added to a frame"),
    "annotation.updated": _A("review", "A drawing was changed"),
    "annotation.deleted": _A("review", "A drawing was deleted"),
    "comment.created": _A("review", "A comment was written"),
    "comment.edited": _A("review", "A comment was edited (the earlier text is kept)"),
    "comment.deleted": _A("review", "A comment was deleted"),
    "comment.resolved": _A("review", "A comment thread was resolved"),
    "comment.reopened": _A("review", "A comment thread was reopened"),
    "review_session.created": _A("review", "A review session was created"),
    "review_session.changed": _A("review", "A review session changed"),
    "review_session.closed": _A("review", "A review session was closed"),
    "review.presenter_changed": _A("review", "A review room's presenter changed"),
    # fixes
    "fix_request.created": _A("fixes", "A fix was requested"),
    "fix_request.refused": _A("fixes", "A fix request was refused (policy or consent)"),
    "fix_request.cancelled": _A("fixes", "A fix request was cancelled"),
    "fix_request.retried": _A("fixes", "A fix request was retried"),
    "fix_request.matte_tracked": _A("fixes", "The drawn region was tracked through the requested range"),
    "fix_job.queued": _A("fixes", "A fix job was queued"),
    "fix_job.started": _A("fixes", "A worker started a fix job"),
    "fix_job.taken_over": _A("fixes", "A worker took over a fix job another worker had left"),
    "fix_job.retrying": _A("fixes", "A fix job failed and will be retried"),
    "fix_job.resent": _A("fixes", "A stuck fix job was sent to the GPU queue again on request"),
    "fix_job.failed": _A("fixes", "A fix job failed"),
    "fix_job.cancelled": _A("fixes", "A fix job was cancelled"),
    "fix_job.succeeded": _A("fixes", "A fix job finished"),
    "fix_policy.changed": _A("fixes", "A production's approval policy changed"),
    "fix_policy.change_proposed": _A("fixes", "A change relaxing the approval policy was proposed; it waits for a "
                                              "second producer or compliance"),
    "proposal.created": _A("fixes", "A proposed fix was made"),
    "proposal.signed": _A("fixes", "A proposed fix was signed (electronic signature)"),
    "proposal.approved": _A("fixes", "A proposed fix was approved"),
    "proposal.rejected": _A("fixes", "A proposed fix was rejected"),
    "proposal.changes_requested": _A("fixes", "Changes to a proposed fix were requested"),
    "proposal.approval_refused": _A("fixes", "An approval was refused"),
    "proposal.promoted": _A("fixes", "An approved proposal was promoted"),
    "signature.refused": _A("fixes", "A signature was refused (wrong credential or too many attempts)"),
    "consent.recorded": _A("fixes", "A performer's consent was recorded"),
    "consent.revoked": _A("fixes", "A performer's consent was revoked"),
    # delivery
    "delivery.queued": _A("delivery", "A delivery package was queued for an approved proposal"),
    "delivery.packaged": _A("delivery", "A delivery package was built: media, credentials, sidecars, ASC MHL"),
    "delivery.failed": _A("delivery", "A delivery package could not be built; the reason is kept"),
    "delivery.downloaded": _A("delivery", "A file of a delivery package was downloaded", read=True),
    "webhook.created": _A("delivery", "A webhook endpoint was added (its secret is never logged)"),
    "webhook.secret_rotated": _A("delivery", "A webhook endpoint's secret was replaced"),
    "webhook.changed": _A("delivery", "A webhook endpoint was switched on or off"),
    "notes.exported": _A("delivery", "Review notes were exported as markers for an editing system", read=True),
}


def describe(action):
    entry = ACTIONS.get(action)
    return entry.description if entry else ""

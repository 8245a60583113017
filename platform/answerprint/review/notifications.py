"""Telling people what concerns them: a mention, a reply to their note, a proposal ready for what
they asked, a decision or a request for changes on it. Each becomes a row in their inbox, in the
writer's transaction; after commit it is pushed live to every review room they have open and,
when they want it, e-mailed (through Celery, so a slow mail server never holds a request up).

The services that make those changes call the functions at the bottom; `notify` is the one
place that decides who gets what.
"""
import json
import logging
from functools import partial

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from answerprint.accounts.models import Membership

from . import broadcast
from .models import Notification, NotificationKind, NotificationPreference, Room

log = logging.getLogger(__name__)


def notify(*, recipients, kind, production, actor, text, url):
    """Inside the caller's transaction: a notification for each recipient who is an active member
    of the production and wants this kind in some way (never for the actor's own doing). Returns
    the rows made. One the recipient keeps out of their inbox but wants by e-mail is made read."""
    wanted = {user.pk: user for user in recipients if user is not None and (actor is None or user.pk != actor.pk)}
    if not wanted:
        return []
    members = set(Membership.objects.active().filter(production=production, user_id__in=wanted)
                  .values_list("user_id", flat=True))
    preferences = {p.user_id: p for p in NotificationPreference.objects.filter(user_id__in=wanted, kind=kind)}
    now = timezone.now()
    made = []
    for user_id in sorted(members):
        preference = preferences.get(user_id)
        in_app = preference.in_app if preference else True
        email = (preference.email if preference else True) and bool(wanted[user_id].email)
        if not (in_app or email):
            continue
        made.append(Notification.objects.create(
            recipient_id=user_id, production=production, kind=kind, text=text[:500], url=url[:500],
            actor_name=actor.printed_name if actor is not None else "Answerprint", read_at=None if in_app else now))
        if email:
            transaction.on_commit(partial(_enqueue_email, made[-1].pk))
    if made:
        transaction.on_commit(partial(push, [n.pk for n in made if n.read_at is None]))
    return made


def unread_count(user_id):
    return Notification.objects.filter(recipient_id=user_id, read_at__isnull=True).count()


def as_message(notification, unread):
    return {"type": "notification", "id": notification.pk, "kind": notification.kind, "text": notification.text,
            "url": notification.url, "actor": notification.actor_name, "unread": unread,
            "at": notification.created_at.isoformat()}


def push(notification_ids):
    """Send each notification, with the recipient's unread count, to the review rooms they have
    open; each room's connections pass it on only to that person. Live only: the inbox has it
    whatever happens here."""
    for notification in Notification.objects.filter(pk__in=notification_ids):
        text = json.dumps(as_message(notification, unread_count(notification.recipient_id)))
        for room in Room.objects.filter(presences__user_id=notification.recipient_id).distinct():
            try:
                broadcast.send_group(room.group_name, {"type": "user.notification",
                                                       "user": notification.recipient_id, "text": text})
            except Exception:  # noqa: BLE001 - the channel layer is down: the inbox still has it
                log.info("Could not push notification %s to %s", notification.pk, room.group_name, exc_info=True)


def _enqueue_email(notification_id):
    from . import tasks

    try:
        tasks.email_notification.delay(notification_id)
    except Exception:  # the broker is down: the inbox has it; the mail is not worth failing a request for
        log.exception("Could not queue the e-mail for notification %s", notification_id)


def send_email(notification_id):
    """E-mail one notification, once (the task's body)."""
    from django.core.mail import send_mail

    notification = Notification.objects.select_related("recipient", "production").filter(pk=notification_id).first()
    if notification is None or notification.emailed_at is not None or not notification.recipient.email:
        return False
    link = settings.SITE_URL.rstrip("/") + notification.url
    send_mail(subject=f"[{notification.production.title}] {notification.text[:150]}",
              message=f"{notification.text}\n\n{link}\n\nChange what you are sent at "
                      f"{settings.SITE_URL.rstrip('/')}{reverse('inbox')}",
              from_email=None, recipient_list=[notification.recipient.email])
    Notification.objects.filter(pk=notification.pk).update(emailed_at=timezone.now())
    return True


# ---------------------------------------------------------------- what is worth telling


def frame_url(version, frame):
    """The review page of `version`, opened on frame index `frame`."""
    shot = version.shot
    url = reverse("shot-page", args=[shot.production.code, shot.name]) + f"?v={version.number}"
    return url + (f"&frame={version.first_frame + frame}" if frame is not None else "")


def comment_written(comment, *, mentioned, actor):
    """A new note: those it mentions, and the author of the note it answers."""
    version = comment.version
    where = f"{version}" + (f" at frame {version.first_frame + comment.frame}" if comment.frame is not None else "")
    quote = f": “{comment.body[:160]}”"
    url = frame_url(version, comment.frame)
    production = version.shot.production
    notify(recipients=mentioned, kind=NotificationKind.MENTION, production=production, actor=actor,
           text=f"{actor.printed_name} mentioned you on {where}{quote}", url=url)
    parent_author = comment.parent.author if comment.parent_id else None
    if parent_author is not None and parent_author not in mentioned:
        notify(recipients=[parent_author], kind=NotificationKind.REPLY, production=production, actor=actor,
               text=f"{actor.printed_name} replied to your note on {where}{quote}", url=url)


def proposal_made(proposal):
    """A proposal for what someone asked: the requester looks at it first."""
    fix = proposal.request
    notify(recipients=[fix.requested_by], kind=NotificationKind.PROPOSAL_READY, production=fix.production,
           actor=None, text=f"Proposal v{proposal.version.number:03d} for fix #{fix.pk} on {fix.shot.name} is ready "
                            f"for review", url=reverse("fix-detail", args=[fix.production.code, fix.pk]))


def decision_made(proposal, decision):
    """A signature, a rejection or a request for changes on what someone asked."""
    fix = proposal.request
    changes = decision.outcome == "request_changes"
    notify(recipients=[fix.requested_by], production=fix.production, actor=decision.signer,
           kind=NotificationKind.CHANGES_REQUESTED if changes else NotificationKind.DECISION,
           text=f"{decision.manifestation} on proposal v{proposal.version.number:03d} for fix #{fix.pk} "
                f"({fix.shot.name})" + (f": “{decision.reason[:160]}”" if decision.reason else ""),
           url=reverse("fix-detail", args=[fix.production.code, fix.pk]) + f"#proposal-{proposal.pk}")

"""Every write of the review rooms: validated, audited and numbered in one transaction, sent to
the room after commit.

A change to an annotation or comment is one transaction that writes the row, its audit event and
one RoomEvent per room that shows the version (its version room and every open session room
whose playlist holds it), each with that room's next sequence number. The channel layer carries
the event after commit; a client that missed it asks for it by number (see consumers.py).

Other apps tell rooms about their own changes with `publish_to_version_room` (stored and
numbered: proposal ready, decision made) or `publish_to_production` (live only: progress).
"""
import json
import logging
import re
import uuid
from dataclasses import dataclass
from functools import partial
from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from answerprint.accounts.models import Membership, Role
from answerprint.accounts.permissions import can
from answerprint.audit.services import record_event
from answerprint.media.models import MediaAsset, Version

from . import broadcast
from .models import (Annotation, Comment, CommentRevision, ReviewSession, ReviewSessionItem, Room, RoomEvent,
                     RoomKind, RoomPresence)
from .schemas import AnnotationSerializer, CommentSerializer, ReviewSessionSerializer
from .shapes import check_shape, clean_color, clean_points, clean_width

logger = logging.getLogger(__name__)

# A connection that has not been heard from for this long is no longer listed as present: the
# process serving it may have died without removing its row. Clients ping well inside it.
PRESENCE_TTL = timedelta(seconds=90)
PRESENCE_REFRESH = timedelta(seconds=20)

_MENTION = re.compile(r"(?<![\w.@+-])@([\w.@+-]*[\w])")
_OUTSIDE_TYPE = re.compile(r"^[a-z][a-z_]*(\.[a-z][a-z_]*)+$")
# Event types only this app writes: an outside publisher may not forge them.
_RESERVED_PREFIXES = ("annotation.", "comment.", "presenter.", "session.", "presence.", "playhead", "pointer")


@dataclass(frozen=True)
class Applied:
    """What a room operation did: the object, the events it wrote (one per room showing the
    version, the version's own room first), and whether this was a retry of an operation applied
    earlier, in which case nothing was changed again and `events` are the earlier ones."""

    obj: object
    events: list
    duplicate: bool = False

    @property
    def event(self):
        return self.events[0]

    def sequence_in(self, room_id):
        """The event's number in one room; None if this room did not show the version then."""
        return next((e.sequence for e in self.events if e.room_id == room_id), None)


# ---------------------------------------------------------------- rooms and their event log


def version_room(version):
    room, _ = Room.objects.get_or_create(
        key=f"version-{version.pk}",
        defaults={"kind": RoomKind.VERSION, "production_id": version.shot.production_id, "version": version},
    )
    return room


def session_room(session):
    room, _ = Room.objects.get_or_create(
        key=f"session-{session.pk.hex}",
        defaults={"kind": RoomKind.SESSION, "production_id": session.production_id, "session": session},
    )
    return room


def rooms_showing(version):
    """The version's own room first, then the open session rooms whose playlist holds it."""
    sessions = Room.objects.filter(
        kind=RoomKind.SESSION, session__closed_at__isnull=True, session__items__version=version
    ).order_by("pk")
    return [version_room(version), *sessions]


def _lock_rooms(rooms):
    """Lock the rooms' rows, in id order so two writers never wait on each other crosswise."""
    locked = {room.pk: room for room in Room.objects.select_for_update().filter(pk__in=[r.pk for r in rooms])
              .order_by("pk")}
    return [locked[room.pk] for room in rooms]


def _lock_rooms_showing(version):
    """rooms_showing(version), locked, in one query (this is on the path of every note)."""
    sessions = ReviewSessionItem.objects.filter(version=version, session__closed_at__isnull=True) \
        .values("session_id")
    rooms = list(Room.objects.select_for_update()
                 .filter(Q(version=version) | Q(kind=RoomKind.SESSION, session_id__in=sessions)).order_by("pk"))
    if not any(room.version_id == version.pk for room in rooms):
        version_room(version)
        return _lock_rooms_showing(version)
    return sorted(rooms, key=lambda room: room.version_id != version.pk)


def _earlier(rooms, actor, op, types, target=None):
    """The events an earlier send of this op wrote, if the client is retrying; else [].

    A key reused for another kind of operation, or for another target, is refused: treating
    it as a retry would silently drop the new operation."""
    if not op or actor is None:
        return []
    events = sorted(RoomEvent.objects.filter(room__in=rooms, author=actor, op=op), key=lambda e: e.room_id)
    if not events:
        return []
    if any(e.type not in types for e in events) or not any(e.room_id == rooms[0].pk for e in events) \
            or (target is not None and events[0].payload.get("id") != str(target.pk)):
        raise ValidationError({"op": f"This op key was already used for {events[0].type}; use a new key."})
    first = {room.pk: i for i, room in enumerate(rooms)}
    return sorted(events, key=lambda e: first.get(e.room_id, len(rooms)))


def _plain(payload):
    """The payload as the database will give it back, so live and replayed copies are equal."""
    return json.loads(json.dumps(payload, cls=DjangoJSONEncoder))


def event_frame(event, room_key):
    """A stored event as clients receive it, live and on replay alike."""
    return {
        "type": "event",
        "room": room_key,
        "seq": event.sequence,
        "event": event.type,
        "data": event.payload,
        "by": {"id": event.author_id, "name": event.author_name} if event.author_id else None,
        "at": json.loads(json.dumps(event.created_at, cls=DjangoJSONEncoder)),
        "op": event.op,
    }


def _append(rooms, type, payload, *, actor=None, op=None):
    """Number and store one event in each (locked) room; send them after commit."""
    payload = _plain(payload)
    now = timezone.now()
    events = []
    for room in rooms:
        room.last_sequence += 1
        Room.objects.filter(pk=room.pk).update(last_sequence=room.last_sequence)
        events.append(RoomEvent.objects.create(
            room=room, sequence=room.last_sequence, type=type, payload=payload, author=actor,
            author_name=actor.printed_name if actor is not None else "", op=op, created_at=now,
        ))
    outgoing = [(room.group_name, broadcast.stored_event_message(event_frame(event, room.key)))
                for room, event in zip(rooms, events)]

    def send():
        for group, message in outgoing:
            broadcast.send_group(group, message)

    transaction.on_commit(send, robust=True)
    return events


# ---------------------------------------------------------------- frames and people


def frame_count(version):
    """How many frames the version has, when known: the probed asset's count, else the shot's."""
    try:
        count = version.asset.frame_count
    except MediaAsset.DoesNotExist:
        count = None
    return count if count else version.shot.frame_count


def _check_frames(version, frame, duration=1, field="frame"):
    count = frame_count(version)
    if count is not None and frame + duration > count:
        last = frame + duration - 1
        raise ValidationError(
            {field: f"The shot has frames 0 to {count - 1} (0 is its first frame); {last} is past its end."}
        )


def _membership(actor, production_id):
    return Membership.objects.active().filter(user=actor, production_id=production_id).first()


def _is_producer(actor, production_id):
    membership = _membership(actor, production_id)
    return membership is not None and membership.role == Role.PRODUCER


def _user_ref(user):
    return {"id": user.pk, "username": user.username, "name": user.printed_name} if user else None


def mentioned_members(body, production_id):
    """Members of the production named as @username in the text; other names are left as text."""
    names = {name.lower() for name in _MENTION.findall(body)}
    if not names:
        return []
    members = Membership.objects.active().filter(production_id=production_id).select_related("user")
    return [m.user for m in members if m.user.username.lower() in names]


# ---------------------------------------------------------------- annotations


def _annotation_state(annotation):
    return {"version": annotation.version_id, "frame": annotation.frame, "duration": annotation.duration,
            "shape": annotation.shape, "points": annotation.points, "color": annotation.color,
            "width": annotation.width, "text": annotation.text}


def create_annotation(*, actor, version, frame, shape, points, duration=1, color="#ff3b30", width=0.004,
                      text="", id=None, op=None):
    """Store one shape on a version and tell every room showing it."""
    points = clean_points(points)
    color, width, text = clean_color(color), clean_width(width), text or ""
    check_shape(shape, points, text)
    if not isinstance(frame, int) or frame < 0 or not isinstance(duration, int) or duration < 1:
        raise ValidationError({"frame": "Frame is 0 or more and duration 1 or more, in whole frames."})
    _check_frames(version, frame, duration)
    production = version.shot.production
    with transaction.atomic():
        rooms = _lock_rooms_showing(version)
        earlier = _earlier(rooms, actor, op, {"annotation.created"})
        if earlier:
            return Applied(Annotation.objects.get(pk=earlier[0].payload["id"]), earlier, duplicate=True)
        annotation_id = id or uuid.uuid4()
        if Annotation.objects.filter(pk=annotation_id).exists():
            raise ValidationError({"id": "An annotation with this id exists already."})
        annotation = Annotation.objects.create(
            id=annotation_id, version=version, author=actor, frame=frame, duration=duration, shape=shape,
            points=points, color=color, width=width, text=text,
        )
        record_event("annotation.created", actor=actor, production=production, target=annotation,
                     after=_annotation_state(annotation))
        events = _append(rooms, "annotation.created", AnnotationSerializer(annotation).data, actor=actor, op=op)
    return Applied(annotation, events)


_ANNOTATION_CHANGES = {"frame", "duration", "points", "color", "width", "text"}


def update_annotation(*, actor, annotation, changes, reason="", op=None):
    """Change a shape's geometry, style, text or frames. Only its author redraws it."""
    unknown = set(changes) - _ANNOTATION_CHANGES
    if unknown:
        raise ValidationError(f"Cannot change {', '.join(sorted(unknown))} of an annotation.")
    if not changes:
        raise ValidationError("Name at least one thing to change.")
    version = annotation.version
    with transaction.atomic():
        rooms = _lock_rooms_showing(version)
        earlier = _earlier(rooms, actor, op, {"annotation.updated"}, target=annotation)
        if earlier:
            return Applied(Annotation.objects.get(pk=annotation.pk), earlier, duplicate=True)
        annotation = Annotation.objects.select_related("author").get(pk=annotation.pk)
        if annotation.deleted_at is not None:
            raise ValidationError("This annotation was deleted.")
        if annotation.author_id != actor.pk:
            raise PermissionDenied("Only the author of a drawing may change it.")
        cleaned = dict(changes)
        if "points" in cleaned:
            cleaned["points"] = clean_points(cleaned["points"])
        if "color" in cleaned:
            cleaned["color"] = clean_color(cleaned["color"])
        if "width" in cleaned:
            cleaned["width"] = clean_width(cleaned["width"])
        before = {name: getattr(annotation, name) for name in cleaned}
        for name, value in cleaned.items():
            setattr(annotation, name, value)
        check_shape(annotation.shape, annotation.points, annotation.text)
        _check_frames(version, annotation.frame, annotation.duration)
        annotation.revision += 1
        annotation.save()
        record_event("annotation.updated", actor=actor, production=version.shot.production, target=annotation,
                     before=before, after=cleaned, reason=reason)
        events = _append(rooms, "annotation.updated", AnnotationSerializer(annotation).data, actor=actor, op=op)
    return Applied(annotation, events)


def delete_annotation(*, actor, annotation, reason="", op=None):
    """Remove a shape from view. The row stays (and the audit log holds what it was)."""
    version = annotation.version
    production = version.shot.production
    with transaction.atomic():
        rooms = _lock_rooms_showing(version)
        earlier = _earlier(rooms, actor, op, {"annotation.deleted"}, target=annotation)
        if earlier:
            return Applied(Annotation.objects.get(pk=annotation.pk), earlier, duplicate=True)
        annotation = Annotation.objects.select_related("author").get(pk=annotation.pk)
        if annotation.deleted_at is not None:
            raise ValidationError("This annotation was deleted already.")
        if annotation.author_id != actor.pk and not _is_producer(actor, production.pk):
            raise PermissionDenied("Only the author or a producer may delete a drawing.")
        annotation.deleted_at, annotation.deleted_by = timezone.now(), actor
        annotation.revision += 1
        annotation.save(update_fields=["deleted_at", "deleted_by", "revision", "updated_at"])
        record_event("annotation.deleted", actor=actor, production=production, target=annotation,
                     before=_annotation_state(annotation), reason=reason)
        events = _append(rooms, "annotation.deleted",
                         {"id": str(annotation.pk), "version": version.pk, "revision": annotation.revision},
                         actor=actor, op=op)
    return Applied(annotation, events)


# ---------------------------------------------------------------- comments


def _comment_payload(comment):
    comment = Comment.objects.select_related("author", "resolved_by").prefetch_related("mentions").get(pk=comment.pk)
    return CommentSerializer(comment).data


def create_comment(*, actor, version, body, frame=None, duration=1, parent=None, id=None, op=None):
    """A note on a version, or a reply to one. @username mentions members of the production."""
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": "A comment needs some text."})
    if frame is not None:
        _check_frames(version, frame, duration)
    production = version.shot.production
    with transaction.atomic():
        rooms = _lock_rooms_showing(version)
        earlier = _earlier(rooms, actor, op, {"comment.created"})
        if earlier:
            return Applied(Comment.objects.get(pk=earlier[0].payload["id"]), earlier, duplicate=True)
        if parent is not None:
            parent = Comment.objects.get(pk=parent.pk)
            if parent.version_id != version.pk:
                raise ValidationError({"parent": "A reply goes on the same version as the comment it answers."})
            if parent.parent_id is not None:  # threads are one level deep: a reply to a reply joins the thread
                parent = Comment.objects.get(pk=parent.parent_id)
            if parent.deleted_at is not None:
                raise ValidationError({"parent": "That comment was deleted."})
        comment_id = id or uuid.uuid4()
        if Comment.objects.filter(pk=comment_id).exists():
            raise ValidationError({"id": "A comment with this id exists already."})
        comment = Comment.objects.create(id=comment_id, version=version, parent=parent, author=actor, frame=frame,
                                         duration=duration, body=body)
        mentioned = mentioned_members(body, production.pk)
        comment.mentions.set(mentioned)
        record_event("comment.created", actor=actor, production=production, target=comment, after={
            "version": version.pk, "parent": str(parent.pk) if parent else None, "frame": frame,
            "duration": duration, "body": body, "mentions": sorted(u.username for u in mentioned)})
        events = _append(rooms, "comment.created", _comment_payload(comment), actor=actor, op=op)
    return Applied(comment, events)


def _locked_comment(comment):
    return Comment.objects.select_related("version__shot").get(pk=comment.pk)


def edit_comment(*, actor, comment, body, reason="", op=None):
    """Replace a comment's text. The earlier text is kept as a revision and in the audit log."""
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": "A comment needs some text; delete it instead."})
    version = comment.version
    with transaction.atomic():
        rooms = _lock_rooms_showing(version)
        earlier = _earlier(rooms, actor, op, {"comment.edited"}, target=comment)
        if earlier:
            return Applied(Comment.objects.get(pk=comment.pk), earlier, duplicate=True)
        comment = _locked_comment(comment)
        if comment.deleted_at is not None:
            raise ValidationError("This comment was deleted.")
        if comment.author_id != actor.pk:
            raise PermissionDenied("Only the author may edit a comment.")
        if body == comment.body:
            raise ValidationError({"body": "The text is unchanged."})
        now = timezone.now()
        CommentRevision.objects.create(comment=comment, revision=comment.revision, body=comment.body,
                                       written_at=comment.edited_at or comment.created_at, replaced_at=now,
                                       replaced_by=actor, reason=reason)
        before = comment.body
        comment.body, comment.edited_at = body, now
        comment.revision += 1
        comment.save(update_fields=["body", "edited_at", "revision"])
        mentioned = mentioned_members(body, version.shot.production_id)
        comment.mentions.set(mentioned)
        record_event("comment.edited", actor=actor, production=version.shot.production, target=comment,
                     before={"body": before}, after={"body": body}, reason=reason)
        events = _append(rooms, "comment.edited", _comment_payload(comment), actor=actor, op=op)
    return Applied(comment, events)


def delete_comment(*, actor, comment, reason="", op=None):
    """Hide a comment from the thread. Its text stays in the row and the audit log."""
    version = comment.version
    production = version.shot.production
    with transaction.atomic():
        rooms = _lock_rooms_showing(version)
        earlier = _earlier(rooms, actor, op, {"comment.deleted"}, target=comment)
        if earlier:
            return Applied(Comment.objects.get(pk=comment.pk), earlier, duplicate=True)
        comment = _locked_comment(comment)
        if comment.deleted_at is not None:
            raise ValidationError("This comment was deleted already.")
        if comment.author_id != actor.pk and not _is_producer(actor, production.pk):
            raise PermissionDenied("Only the author or a producer may delete a comment.")
        now = timezone.now()
        # The deleted text joins the comment's history like an edited one, with the reason.
        CommentRevision.objects.create(comment=comment, revision=comment.revision, body=comment.body,
                                       written_at=comment.edited_at or comment.created_at, replaced_at=now,
                                       replaced_by=actor, reason=reason)
        comment.deleted_at, comment.deleted_by = now, actor
        comment.revision += 1
        comment.save(update_fields=["deleted_at", "deleted_by", "revision"])
        record_event("comment.deleted", actor=actor, production=production, target=comment,
                     before={"body": comment.body}, reason=reason)
        events = _append(rooms, "comment.deleted", _comment_payload(comment), actor=actor, op=op)
    return Applied(comment, events)


def _set_resolution(*, actor, comment, resolve, op):
    version = comment.version
    action = "comment.resolved" if resolve else "comment.reopened"
    with transaction.atomic():
        rooms = _lock_rooms_showing(version)
        earlier = _earlier(rooms, actor, op, {action}, target=comment)
        if earlier:
            return Applied(Comment.objects.get(pk=comment.pk), earlier, duplicate=True)
        comment = _locked_comment(comment)
        if comment.parent_id is not None:
            raise ValidationError("Resolve or reopen the thread's first comment, not a reply.")
        if comment.deleted_at is not None:
            raise ValidationError("This comment was deleted.")
        if resolve == (comment.resolved_at is not None):
            raise ValidationError("This thread is resolved already." if resolve else "This thread is open already.")
        before = {"resolved_at": comment.resolved_at, "resolved_by": comment.resolved_by_id}
        comment.resolved_at, comment.resolved_by = (timezone.now(), actor) if resolve else (None, None)
        comment.save(update_fields=["resolved_at", "resolved_by"])
        record_event(action, actor=actor, production=version.shot.production, target=comment, before=before,
                     after={"resolved_at": comment.resolved_at, "resolved_by": comment.resolved_by_id})
        events = _append(rooms, action, _comment_payload(comment), actor=actor, op=op)
    return Applied(comment, events)


def resolve_comment(*, actor, comment, op=None):
    return _set_resolution(actor=actor, comment=comment, resolve=True, op=op)


def reopen_comment(*, actor, comment, op=None):
    return _set_resolution(actor=actor, comment=comment, resolve=False, op=op)


# ---------------------------------------------------------------- review sessions


def _playlist(production, version_ids):
    if len(set(version_ids)) != len(version_ids):
        raise ValidationError({"versions": "A version appears twice in the playlist."})
    found = {v.pk: v for v in Version.objects.select_related("shot").filter(pk__in=version_ids,
                                                                               shot__production=production)}
    missing = [pk for pk in version_ids if pk not in found]
    if missing:
        raise ValidationError({"versions": f"No version {', '.join(map(str, missing))} in this production."})
    return [found[pk] for pk in version_ids]


def _session_payload(session):
    session = ReviewSession.objects.select_related("created_by").prefetch_related("items__version__shot").get(
        pk=session.pk)
    return ReviewSessionSerializer(session).data


@transaction.atomic
def create_review_session(*, actor, production, title, version_ids):
    """A review meeting over a playlist of versions of one production, with its own room."""
    title = (title or "").strip()
    if not title:
        raise ValidationError({"title": "A session needs a title."})
    versions = _playlist(production, version_ids)
    session = ReviewSession.objects.create(production=production, title=title, created_by=actor)
    ReviewSessionItem.objects.bulk_create(
        [ReviewSessionItem(session=session, version=v, position=i) for i, v in enumerate(versions)])
    session_room(session)
    record_event("review_session.created", actor=actor, production=production, target=session,
                 after={"title": title, "versions": version_ids})
    return session


def change_review_session(*, actor, session, title=None, version_ids=None, reason="", op=None):
    """Rename a session or change its playlist; the room is told so its clients reload it."""
    with transaction.atomic():
        room = _lock_rooms([session_room(session)])[0]
        earlier = _earlier([room], actor, op, {"session.updated"})
        if earlier:
            return Applied(ReviewSession.objects.get(pk=session.pk), earlier, duplicate=True)
        session = ReviewSession.objects.get(pk=session.pk)
        if session.closed_at is not None:
            raise ValidationError("This session is closed.")
        before, after = {}, {}
        if title is not None and title.strip() != session.title:
            before["title"], after["title"] = session.title, title.strip()
            session.title = title.strip()
            if not session.title:
                raise ValidationError({"title": "A session needs a title."})
            session.save(update_fields=["title"])
        if version_ids is not None:
            current = list(session.items.order_by("position").values_list("version_id", flat=True))
            if current != list(version_ids):
                versions = _playlist(session.production, list(version_ids))
                session.items.all().delete()
                ReviewSessionItem.objects.bulk_create(
                    [ReviewSessionItem(session=session, version=v, position=i) for i, v in enumerate(versions)])
                before["versions"], after["versions"] = current, list(version_ids)
        if not after:
            raise ValidationError("Nothing changed.")
        record_event("review_session.changed", actor=actor, production=session.production, target=session,
                     before=before, after=after, reason=reason)
        events = _append([room], "session.updated", _session_payload(session), actor=actor, op=op)
    return Applied(session, events)


def close_review_session(*, actor, session, reason="", op=None):
    """End a session: its room tells everyone and accepts no one new."""
    with transaction.atomic():
        room = _lock_rooms([session_room(session)])[0]
        earlier = _earlier([room], actor, op, {"session.closed"})
        if earlier:
            return Applied(ReviewSession.objects.get(pk=session.pk), earlier, duplicate=True)
        session = ReviewSession.objects.get(pk=session.pk)
        if session.closed_at is not None:
            raise ValidationError("This session is closed already.")
        session.closed_at = timezone.now()
        session.save(update_fields=["closed_at"])
        record_event("review_session.closed", actor=actor, production=session.production, target=session,
                     after={"closed_at": session.closed_at}, reason=reason)
        events = _append([room], "session.closed", _session_payload(session), actor=actor, op=op)
    return Applied(session, events)


# ---------------------------------------------------------------- presenter and playhead


def _present_users(room):
    cutoff = timezone.now() - PRESENCE_TTL
    return set(RoomPresence.objects.filter(room=room, seen_at__gte=cutoff).values_list("user_id", flat=True))


def _change_presenter(*, actor, room, new, op, reason=""):
    previous = room.presenter
    room.presenter = new
    # Whoever takes over starts from where the room is; only the leader changes.
    room.save(update_fields=["presenter"])
    record_event("review.presenter_changed", actor=actor, production=room.production, target=room,
                 before={"presenter": previous.username if previous else None},
                 after={"presenter": new.username if new else None}, reason=reason)
    events = _append([room], "presenter.changed",
                     {"presenter": _user_ref(new), "previous": _user_ref(previous)}, actor=actor, op=op)
    return Applied(room, events)


def claim_presenter(*, actor, room, op=None):
    """Take the lead of the room's playhead. Free when no one leads or the leader has left;
    a producer may take it from anyone."""
    with transaction.atomic():
        room = _lock_rooms([room])[0]
        earlier = _earlier([room], actor, op, {"presenter.changed"})
        if earlier:
            return Applied(room, earlier, duplicate=True)
        membership = _membership(actor, room.production_id)
        if not can(membership, "annotate"):
            raise PermissionDenied("Only producers, supervisors and editors may take the lead; ask to be handed it.")
        if room.presenter_id == actor.pk:
            raise ValidationError("You are presenting already.")
        if room.presenter_id is not None and room.presenter_id in _present_users(room) \
                and membership.role != Role.PRODUCER:
            raise PermissionDenied(f"{room.presenter.printed_name} is presenting; ask them to hand over.")
        return _change_presenter(actor=actor, room=room, new=actor, op=op)


def hand_over_presenter(*, actor, room, to_user_id, op=None):
    """The presenter (or a producer) passes the lead to someone in the room."""
    with transaction.atomic():
        room = _lock_rooms([room])[0]
        earlier = _earlier([room], actor, op, {"presenter.changed"})
        if earlier:
            return Applied(room, earlier, duplicate=True)
        if room.presenter_id != actor.pk and not _is_producer(actor, room.production_id):
            raise PermissionDenied("Only the presenter or a producer may hand over.")
        if to_user_id == room.presenter_id:
            raise ValidationError({"to": "They are presenting already."})
        target = Membership.objects.active().select_related("user").filter(
            user_id=to_user_id, production_id=room.production_id).first()
        if target is None or to_user_id not in _present_users(room):
            raise ValidationError({"to": "Hand over to a member who is in the room."})
        return _change_presenter(actor=actor, room=room, new=target.user, op=op)


def release_presenter(*, actor, room, op=None):
    with transaction.atomic():
        room = _lock_rooms([room])[0]
        earlier = _earlier([room], actor, op, {"presenter.changed"})
        if earlier:
            return Applied(room, earlier, duplicate=True)
        if room.presenter_id is None:
            raise ValidationError("No one is presenting.")
        if room.presenter_id != actor.pk and not _is_producer(actor, room.production_id):
            raise PermissionDenied("Only the presenter or a producer may stop the presentation.")
        return _change_presenter(actor=actor, room=room, new=None, op=op)


PLAYHEAD_DEFAULTS = {"state": "paused", "frame": 0, "rate": 1.0, "loop": None, "compare": None, "version": None}


def room_version_ids(room):
    if room.kind == RoomKind.VERSION:
        return [room.version_id]
    return list(ReviewSessionItem.objects.filter(session_id=room.session_id).order_by("position")
                .values_list("version_id", flat=True))


def update_playhead(*, actor, room, changes, exclude_channel=None):
    """The presenter moves the shared playhead: play, pause, seek, rate, loop, compare.

    Not audited and not numbered: transport moves many times a minute and decides nothing; who
    led the room is audited through the presenter changes. The state is kept on the room row so
    that a client joining through any web process starts where the room is."""
    with transaction.atomic():
        room = Room.objects.select_for_update().get(pk=room.pk)
        if room.presenter_id != actor.pk:
            raise PermissionDenied("Only the presenter moves the playhead; claim the lead or follow.")
        state = {**PLAYHEAD_DEFAULTS, **room.playhead, **changes}
        versions = room_version_ids(room)
        if state["version"] is None or state["version"] not in versions:
            if "version" in changes:
                raise ValidationError({"version": "Show a version of this room's playlist."})
            state["version"] = versions[0] if versions else None
        compare = state.get("compare")
        if compare and compare.get("version") and not Version.objects.filter(
                pk=compare["version"], shot__production_id=room.production_id).exists():
            raise ValidationError({"compare": "Compare with a version of the same production."})
        if state["version"] is not None:
            shown = Version.objects.select_related("shot").get(pk=state["version"])
            _check_frames(shown, state["frame"])
            if state["loop"]:
                _check_frames(shown, state["loop"][1], field="loop")
                if not state["loop"][0] <= state["frame"] <= state["loop"][1] and "frame" not in changes:
                    state["frame"] = state["loop"][0]
        room.playhead = _plain(state)
        room.playhead_revision += 1
        room.save(update_fields=["playhead", "playhead_revision"])
        frame = {"type": "playhead", **room.playhead, "revision": room.playhead_revision,
                 "by": _user_ref(actor), "at": int(timezone.now().timestamp() * 1000)}
        group = room.group_name
        transaction.on_commit(
            lambda: broadcast.send_group(group, broadcast.live_message(frame, exclude=exclude_channel)),
            robust=True)
    return frame


# ---------------------------------------------------------------- presence
# Presence is live state, not a record: joining and leaving are not audited and not numbered.


def presence_ref(presence):
    return {"id": presence.public_id, "user": _user_ref(presence.user), "frame": presence.frame,
            "version": presence.version_id_shown, "following": presence.following}


def join_room(*, room, user, channel_name):
    now = timezone.now()
    with transaction.atomic():
        RoomPresence.objects.filter(room=room, seen_at__lt=now - PRESENCE_TTL).delete()
        presence = RoomPresence.objects.create(channel_name=channel_name, public_id=uuid.uuid4().hex[:12],
                                               room=room, user=user, joined_at=now, seen_at=now)
        frame = {"type": "presence.joined", **presence_ref(presence)}
        transaction.on_commit(lambda: broadcast.send_group(
            room.group_name, broadcast.live_message(frame, exclude=channel_name, batch=True)), robust=True)
    return presence


def leave_room(*, room, channel_name):
    with transaction.atomic():
        presence = RoomPresence.objects.filter(channel_name=channel_name).select_related("user").first()
        if presence is None:
            return
        presence.delete()
        frame = {"type": "presence.left", "id": presence.public_id, "user": _user_ref(presence.user)}
        transaction.on_commit(lambda: broadcast.send_group(room.group_name, broadcast.live_message(frame, batch=True)),
                              robust=True)


def move_presence(*, room, channel_name, changes):
    """Where one viewer is: the frame and version they look at, and whether they follow."""
    with transaction.atomic():
        presence = RoomPresence.objects.select_related("user").get(channel_name=channel_name)
        if "version" in changes and changes["version"] is not None \
                and changes["version"] not in room_version_ids(room):
            raise ValidationError({"version": "Not a version of this room."})
        fields = {"frame": "frame", "version": "version_id_shown", "following": "following"}
        for name, value in changes.items():
            setattr(presence, fields[name], value)
        presence.seen_at = timezone.now()
        presence.save()
        frame = {"type": "presence.moved", **presence_ref(presence)}
        transaction.on_commit(lambda: broadcast.send_group(
            room.group_name, broadcast.live_message(frame, exclude=channel_name, batch=True)), robust=True)
    return presence


def expire_presence(*, now=None):
    """Remove the presence of connections that stopped heartbeating (their web process died, or
    its database write at disconnect failed) and tell their rooms they left. Returns how many."""
    cutoff = (now or timezone.now()) - PRESENCE_TTL
    with transaction.atomic():
        stale = list(RoomPresence.objects.select_for_update().filter(seen_at__lt=cutoff)
                     .select_related("user", "room"))
        RoomPresence.objects.filter(pk__in=[presence.pk for presence in stale]).delete()
        for presence in stale:
            frame = {"type": "presence.left", "id": presence.public_id, "user": _user_ref(presence.user)}
            transaction.on_commit(partial(broadcast.send_group, presence.room.group_name,
                                          broadcast.live_message(frame, batch=True)), robust=True)
    return len(stale)


def touch_presence(*, channel_name):
    """Refresh a quiet connection's row so it is not aged out of the list."""
    RoomPresence.objects.filter(channel_name=channel_name, seen_at__lt=timezone.now() - PRESENCE_REFRESH) \
        .update(seen_at=timezone.now())


# ---------------------------------------------------------------- events from other apps


def _check_outside_type(type):
    if not isinstance(type, str) or not _OUTSIDE_TYPE.match(type) or type.startswith(_RESERVED_PREFIXES):
        raise ValueError(f"{type!r} is not a type another app may publish (dotted lowercase, not "
                         f"{', '.join(p.rstrip('.') for p in _RESERVED_PREFIXES)}).")


def publish_to_version_room(version, type, payload, *, durable=True):
    """Tell every room showing `version` that something happened to it elsewhere.

    Call it inside the transaction that made the change: nothing is sent unless that commits.
    durable=True (proposal.ready, decision.made): after the commit the event is stored with each
    room's next sequence number, so a client that was away gets it on reconnect.
    durable=False (job.progress and other ticks): sent live only, through the production's group
    `production-<id>`, to the rooms whose versions include `version`.
    """
    _check_outside_type(type)
    payload = _plain(payload)
    if not durable:
        publish_to_production(version.shot.production, type, payload, version=version)
        return
    version_pk = version.pk

    def store():
        # After the caller's commit, in a transaction of its own: room rows are never locked while
        # the caller's transaction holds its own locks.
        shown = Version.objects.select_related("shot").get(pk=version_pk)
        with transaction.atomic():
            _append(_lock_rooms_showing(shown), type, {"version": version_pk, **payload})

    transaction.on_commit(store, robust=True)


def publish_to_production(production, type, payload, *, version=None):
    """A live notice to every room of a production, after commit (not stored).

    Rooms forward it to their clients when it names no version, or names one they show. This is
    the same group, `production-<id>`, that the media pipeline sends `asset.progress` to: a room
    forwards any message of that group whose `version` (or `version_id`) is one of its own.
    """
    _check_outside_type(type)
    version_id = version.pk if version is not None else payload.get("version") or payload.get("version_id")
    message = {"type": "production.notice", "event": type, "data": _plain(payload), "version": version_id}
    group = broadcast.production_group(production.pk)
    transaction.on_commit(lambda: broadcast.send_group(group, message), robust=True)


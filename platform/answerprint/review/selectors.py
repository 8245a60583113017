"""Reads of the review rooms. Access first: a version, session or note of a production the
user does not belong to is answered exactly like one that does not exist."""
from django.db.models import Prefetch
from django.http import Http404
from django.utils import timezone

from answerprint.accounts.models import Membership
from answerprint.accounts.permissions import require
from answerprint.media.models import Version

from .models import Annotation, Comment, ReviewSession, Room, RoomEvent, RoomKind, RoomPresence
from .schemas import AnnotationSerializer, CommentThreadSerializer, ReviewSessionSerializer
from .services import PLAYHEAD_DEFAULTS, PRESENCE_TTL, event_frame, presence_ref, room_version_ids

# A client that is further behind than this gets the room's whole state instead of the events.
REPLAY_LIMIT = 500


def _membership(user, production_id):
    if not user.is_authenticated:
        return None
    return (Membership.objects.active()
            .filter(user=user, production_id=production_id, production__archived_at__isnull=True).first())


def _checked(user, production_id, capability, what):
    membership = _membership(user, production_id)
    if membership is None:
        raise Http404(f"No such {what}.")
    require(membership, capability)
    return membership


def version_for(user, version_id, capability="view"):
    """The version and the user's membership, or Http404 / PermissionDenied."""
    version = Version.objects.select_related("shot__production").filter(pk=version_id).first()
    if version is None:
        raise Http404("No such version.")
    return version, _checked(user, version.shot.production_id, capability, "version")


def session_for(user, session_id, capability="view"):
    session = ReviewSession.objects.select_related("production").filter(pk=session_id).first()
    if session is None:
        raise Http404("No such review session.")
    return session, _checked(user, session.production_id, capability, "review session")


def annotation_for(user, annotation_id, capability="view"):
    annotation = (Annotation.objects.select_related("version__shot__production", "author")
                  .filter(pk=annotation_id).first())
    if annotation is None:
        raise Http404("No such annotation.")
    return annotation, _checked(user, annotation.version.shot.production_id, capability, "annotation")


def comment_for(user, comment_id, capability="view"):
    comment = Comment.objects.select_related("version__shot__production", "author").filter(pk=comment_id).first()
    if comment is None:
        raise Http404("No such comment.")
    return comment, _checked(user, comment.version.shot.production_id, capability, "comment")


def annotations_of(version_ids, *, include_deleted=False, frame=None):
    """Shapes of the versions, in frame order; `frame` keeps those on screen at that frame."""
    queryset = Annotation.objects.filter(version_id__in=version_ids).select_related("author")
    if not include_deleted:
        queryset = queryset.filter(deleted_at__isnull=True)
    if frame is not None:
        # On screen at `frame`: starts at or before it and lasts past it.
        queryset = [a for a in queryset.filter(frame__lte=frame) if a.frame + a.duration > frame]
    return queryset


def _comment_base():
    return Comment.objects.select_related("author", "resolved_by").prefetch_related("mentions")


def comment_threads_of(version_ids, *, resolved=None):
    """Top-level comments with their replies (oldest first), in as few queries as the depth."""
    threads = _comment_base().filter(version_id__in=version_ids, parent__isnull=True).prefetch_related(
        Prefetch("replies", queryset=_comment_base().order_by("created_at"), to_attr="thread_replies"))
    if resolved is not None:
        threads = threads.filter(resolved_at__isnull=not resolved)
    return threads.order_by("created_at")


def sessions_of(production):
    return (ReviewSession.objects.filter(production=production)
            .select_related("created_by").prefetch_related("items__version__shot"))


def room_events_after(room, since, limit=REPLAY_LIMIT):
    return list(RoomEvent.objects.filter(room=room, sequence__gt=since).order_by("sequence")[:limit])


def presence_in(room):
    cutoff = timezone.now() - PRESENCE_TTL
    return [presence_ref(p) for p in RoomPresence.objects.filter(room=room, seen_at__gte=cutoff)
            .select_related("user").order_by("joined_at")]


def room_welcome(room_id, *, since):
    """What a client needs on (re)joining: the room's live state and either the events after
    `since`, or, for a new client or one too far behind, every current annotation and comment.

    The sequence is read before the snapshot: an event that lands in between is both in the
    snapshot and sent after, and clients apply events as upserts by id and revision."""
    room = Room.objects.select_related("presenter", "session").get(pk=room_id)
    version_ids = room_version_ids(room)
    state = {
        "room": room.key,
        "kind": room.kind,
        "versions": version_ids,
        "presenter": ({"id": room.presenter_id, "name": room.presenter.printed_name} if room.presenter_id else None),
        "playhead": {**PLAYHEAD_DEFAULTS, "version": version_ids[0] if version_ids else None, **room.playhead,
                     "revision": room.playhead_revision},
        "presence": presence_in(room),
    }
    if room.kind == RoomKind.SESSION:
        state["session"] = ReviewSessionSerializer(
            ReviewSession.objects.select_related("created_by").prefetch_related("items__version__shot")
            .get(pk=room.session_id)).data
    missed, reset = [], since is None or since > room.last_sequence
    if not reset:
        events = room_events_after(room, since, REPLAY_LIMIT + 1)
        if len(events) > REPLAY_LIMIT:
            reset = True
        else:
            missed = [event_frame(e, room.key) for e in events]
    seq = missed[-1]["seq"] if missed else (since if not reset else room.last_sequence)
    if reset:
        state["annotations"] = AnnotationSerializer(annotations_of(version_ids), many=True).data
        state["comments"] = CommentThreadSerializer(comment_threads_of(version_ids), many=True).data
    return {"type": "welcome", "seq": seq, "reset": reset, "state": state, "missed": missed}

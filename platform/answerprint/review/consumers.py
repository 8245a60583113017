"""Review rooms over WebSockets: one room per version, one per review session (a playlist).

Connect to /ws/review/versions/<version id>/ or /ws/review/sessions/<session uuid>/ with an
allowed Origin and either the session cookie (browsers) or an API token (tools): the header
`Authorization: Token <key>`, or the subprotocols ["answerprint.v1", "token.<key>"] (the
server answers "answerprint.v1" and never echoes the token). A refused connection is closed
before the handshake completes: 4401 not signed in, 4403 not a member (or no such room),
4410 the session is closed.

Every frame is a JSON object with a "type". Client to server:

  hello        {since: int|null, presence_batches?: bool}   first message, and again any time to catch up
  ping         {}                        keeps the presence row fresh; answered by pong (every <= 30 s)
  presence     {frame?, version?, following?}          where I am and whether I follow the presenter
  pointer      {x, y, frame, version?, visible?}       laser pointer, forwarded live, never stored
  annotation.create {op, annotation: {id?, version?, frame, duration?, shape, points, color?, width?, text?}}
  annotation.update {op, id, changes: {frame?, duration?, points?, color?, width?, text?, reason?}}
  annotation.delete {op, id, reason?}
  comment.create    {op, comment: {id?, version?, parent?, frame?, duration?, body}}
  comment.edit      {op, id, body, reason?}
  comment.delete    {op, id, reason?}
  comment.resolve   {op, id}     comment.reopen {op, id}
  playhead     {state?, frame?, rate?, loop?, compare?, version?}  presenter only
  presenter.claim {op}   presenter.handover {op, to: user id}   presenter.release {op}

`op` is the client's idempotency key (1-64 of [A-Za-z0-9._:-]): a retried send with the same
op is not applied again and is answered with the first result. In a session room, operations
name the `version` of the playlist they are about.

Server to client:

  welcome  {seq, reset, state: {room, kind, versions, presenter, playhead, presence,
            session?, annotations?, comments?}, missed: [event...], you}
           With `since`, `missed` holds every stored event after it, in order. With no `since`,
           or one too far back, `reset` is true and `state` carries every annotation and comment.
  event    {room, seq, event, data, by, at, op}    a stored event; seq rises by exactly 1 per room.
           event: annotation.created|updated|deleted, comment.created|edited|deleted|resolved|reopened,
           presenter.changed, session.updated, session.closed, and events from other apps
           (proposal.ready, decision.made, ...). Apply as upserts by id and revision.
  ack      {op, seq, duplicate}   the sender's operation is stored as event `seq`
  error    {code, message, in, ref, errors?}   the message was not applied; the connection stays
           open. Codes: bad_frame, too_large, bad_json, invalid, unknown_type, not_ready,
           rate_limited and unavailable (the database is not answering; both with retry_after
           seconds: send the same op again then), forbidden, not_found, server_error.
  presence.joined / presence.moved {id, user, frame, version, following}   presence.left {id, user}
           Sent up to 0.2 s late. A client that said hello with presence_batches: true gets the
           changes of that moment as one frame instead, presence.batch {frames: [...]} in order:
           large rooms should, or a crowd arriving costs everyone a frame per arrival.
  pointer  {presence, user, x, y, frame, version, visible}
  playhead {state, frame, rate, loop, compare, version, revision, by, at (server ms)}
  live     {event, data}   not stored: asset.progress, job.progress, ...
  notification {id, kind, text, url, actor, unread, at}   for the person on this connection only
  pong     {}

Delivery: each connection sends stored events in sequence order with no duplicates. A gap
(the channel layer delivers at most once; two web processes may publish out of order) is filled
from the database before the later event goes out. A client that reconnects sends
hello{since: last seq} and gets what it missed. Presence, pointer and playhead are live only;
the presenter and playhead are kept on the Room row, so any web process can answer a welcome.
"""
import asyncio
import json
import logging
import time
import uuid
from collections import deque

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404
from django.utils import timezone

from answerprint.accounts.models import Membership
from answerprint.accounts.permissions import CAPABILITIES, can, require
from answerprint.audit.context import RequestContext, current_request
from answerprint.media.models import Version
from answerprint.throttles import review_ops_wait

from . import broadcast, schemas, selectors, services
from .hub import RoomHub
from .models import Annotation, Comment, Room, RoomEvent

logger = logging.getLogger(__name__)

SUBPROTOCOL = "answerprint.v1"
MAX_MESSAGE_CHARS = 256 * 1024
# How often a connection that only receives re-reads its membership (revocation, expiry).
RECHECK_SECONDS = 60
# A client that keeps sending after this many refusals in a row is cut off.
MAX_REFUSALS = 200
DEFAULT_RATE_LIMITS = {
    # (burst, per second). Stored operations are what a person does by hand; live messages
    # are pointer and scrub traffic, which a browser sends at display rate.
    "ops": (30, 10.0),
    "live": (120, 60.0),
}
# Stored events held for a connection that is busy (saying hello, filling a gap); beyond this
# the oldest are dropped and read back from the database when their turn comes.
PENDING_LIMIT = 1000
# What an `unavailable` error (the database is restarting) tells the client to wait before resending.
UNAVAILABLE_RETRY_SECONDS = 2


class AccessLost(Exception):
    """The membership was revoked, expired, or the production archived, since connecting."""


class RoomClosed(Exception):
    pass


class TokenBucket:
    def __init__(self, burst, rate):
        self.capacity, self.rate = float(burst), float(rate)
        self.tokens, self.updated = float(burst), time.monotonic()

    def take(self):
        """0 when a message may go, else the seconds until one may."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class _Spec:
    def __init__(self, schema, handler, *, live=False, capability="view"):
        self.schema, self.handler, self.live, self.capability = schema, handler, live, capability


class ReviewRoomConsumer(AsyncWebsocketConsumer):
    """Thin: parses, checks membership and capability, calls a service, shapes the reply."""

    room_kind = None

    # ------------------------------------------------------------ connection

    async def __call__(self, scope, receive, send):
        """Channels' AsyncConsumer.__call__, with two differences.

        Room traffic reaches a connection through its room's hub (hub.py), never through the
        channel layer, so a connection does not read the layer itself: a quiet channel or a
        restarting Redis cannot end it. And however the connection ends - the client leaving,
        an error anywhere - it leaves its room: the hub forgets it and presence.left goes out,
        so nobody is shown a ghost.
        """
        self.scope = scope
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        self.channel_name = (await self.channel_layer.new_channel() if self.channel_layer is not None
                             else f"local!{uuid.uuid4().hex}")
        self.base_send = send
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass
        finally:
            await asyncio.shield(self._leave())

    async def connect(self):
        self.ready = False
        self.left = False
        self.presence_batches = False
        self.last_seq = 0
        # While busy, stored events wait in `pending` so they go out in order after the work.
        self.stream_busy = False
        self.pending = deque(maxlen=PENDING_LIMIT)
        self.tasks = set()
        self.rechecking = self.cut_off = False
        self.refusals = 0
        self.message_count = 0
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        try:
            room, membership, version_ids = await database_sync_to_async(self._open)(user)
        except (Http404, PermissionDenied, ObjectDoesNotExist):
            await self.close(code=4403)
            return
        except RoomClosed:
            await self.close(code=4410)
            return
        self.user, self.room, self.version_ids = user, room, set(version_ids)
        self._remember(membership)
        limits = getattr(settings, "REVIEW_WS_RATE_LIMITS", DEFAULT_RATE_LIMITS)
        self.buckets = {name: TokenBucket(*limits[name]) for name in ("ops", "live")}
        self.connection_id = uuid.uuid4().hex[:12]
        headers = dict(self.scope.get("headers") or [])
        client = self.scope.get("client") or ("", 0)
        self.request_context = RequestContext(
            request_id=f"ws-{self.connection_id}", ip=str(client[0] or "")[:64],
            user_agent=headers.get(b"user-agent", b"").decode("latin1")[:400])
        current_request.set(self.request_context)
        self.hub = await RoomHub.enter(self, room.group_name, broadcast.production_group(room.production_id))
        await self.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in self.scope.get("subprotocols", []) else None)
        self.presence = await database_sync_to_async(services.join_room)(
            room=room, user=user, channel_name=self.channel_name)

    def _open(self, user):
        if self.room_kind == "session":
            session, membership = selectors.session_for(user, self.scope["url_route"]["kwargs"]["session_id"])
            if session.closed_at is not None:
                raise RoomClosed()
            room = services.session_room(session)
        else:
            version, membership = selectors.version_for(user, self.scope["url_route"]["kwargs"]["version_id"])
            room = services.version_room(version)
        return room, membership, services.room_version_ids(room)

    def _remember(self, membership):
        self.membership = membership
        self.checked_at = time.monotonic()

    async def disconnect(self, code):
        await self._leave()

    async def _leave(self):
        """Leave the room once, whichever way the connection ends."""
        if getattr(self, "left", True):
            return  # refused before joining, or gone already
        self.left = True
        for task in tuple(self.tasks):
            task.cancel()
        if hasattr(self, "hub"):
            await self.hub.leave(self)
        if hasattr(self, "presence"):
            try:
                await database_sync_to_async(services.leave_room)(room=self.room, channel_name=self.channel_name)
            except Exception:  # noqa: BLE001 - the row then expires with its heartbeat (expire_presence)
                logger.exception("review room %s: could not record that a connection left", self.room.key)

    async def dispatch(self, message):
        # Channels' dispatch closes stale database connections through a thread hop before every
        # message, all on the one database thread. Every database call here goes through
        # database_sync_to_async, which does that cleanup itself, so the hop is skipped.
        # Room traffic comes through the hub (take); nothing else should reach this channel.
        if not message["type"].startswith("websocket."):
            logger.warning("a review room connection ignored a %s sent to it alone", message["type"])
            return
        await getattr(self, get_handler_name(message))(message)

    def _spawn(self, coroutine):
        task = asyncio.ensure_future(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    # ------------------------------------------------------------ sending

    async def send_frame(self, frame):
        await self.send(text_data=broadcast.encode(frame))

    async def error(self, code, message, *, kind=None, ref=None, **extra):
        await self.send_frame({"type": "error", "code": code, "message": message, "in": kind, "ref": ref, **extra})

    def _allowed_now(self):
        """Called for every outgoing frame, so it never waits: an expired membership closes the
        socket, and now and then the membership is re-read in the background so that a revoked
        member stops receiving even without sending anything."""
        expires_at = self.membership.expires_at
        if expires_at is not None and expires_at <= timezone.now():
            if not self.cut_off:
                self.cut_off = True
                self._spawn(self.close(code=4403))
            return False
        if time.monotonic() - self.checked_at > RECHECK_SECONDS and not self.rechecking:
            self.rechecking = True
            self._spawn(self._recheck())
        return True

    async def _recheck(self):
        try:
            await database_sync_to_async(self._check_membership)()
        except AccessLost:
            await self.close(code=4403)
        finally:
            self.rechecking = False

    async def take(self, message):
        """A message from the room's hub (see hub.py), on the hub's task: the common case is sent
        at once; anything out of order waits for this connection's own turn."""
        kind = message["type"]
        if kind == "room.event":
            if self.ready and not self.stream_busy and message["seq"] <= self.last_seq:
                return  # a duplicate: replay or a gap fill sent it already
            if self.ready and not self.stream_busy and message["seq"] == self.last_seq + 1:
                if self._allowed_now():
                    self.last_seq = message["seq"]
                    await self.send(text_data=message["text"])
                    self._after_event(message.get("event"))
                return
            self.pending.append(message)
            if self.ready and not self.stream_busy:
                self._spawn(self._drain())
        elif kind == "room.live":
            if message.get("exclude") != self.channel_name:
                await self.take_live(message["text"])
        elif kind == "user.notification":  # someone's inbox: only their own connections pass it on
            if message.get("user") == self.user.pk:
                await self.take_live(message["text"])
        elif kind == "production.notice":
            await self._forward_notice(message["event"], message.get("data") or {}, message.get("version"))
        else:
            # Anything else reaches us through the production group (the media pipeline's
            # asset.progress and the like): forwarded as a live notice when it concerns us.
            await self._forward_notice(kind, message, message.get("version", message.get("version_id")))

    async def take_live(self, text):
        if self.ready and self._allowed_now():
            await self.send(text_data=text)

    def _after_event(self, event):
        if event == "session.updated":
            self._spawn(self._reload_versions())
        elif event == "session.closed":
            self._spawn(self.close(code=4410))

    async def _reload_versions(self):
        self.version_ids = set(await database_sync_to_async(services.room_version_ids)(self.room))

    async def _drain(self):
        """Send the held stored events in order, reading any missing ones from the database."""
        if self.stream_busy or not self.ready:
            return
        self.stream_busy = True
        try:
            while self.pending:
                held = sorted(self.pending, key=lambda m: m["seq"])
                self.pending.clear()
                for message in held:
                    if message["seq"] <= self.last_seq or not self._allowed_now():
                        continue
                    if message["seq"] > self.last_seq + 1:
                        await self._fill_gap(message["seq"])
                    await self.send(text_data=message["text"])
                    self.last_seq = message["seq"]
                    self._after_event(message.get("event"))
        finally:
            self.stream_busy = False

    def catch_up(self):
        """The hub was cut off from the channel layer for a while: what was published meanwhile
        never reached it, so read it from the database."""
        if self.ready:
            self._spawn(self._catch_up())

    async def _catch_up(self):
        if self.stream_busy:
            return  # a hello or a drain in progress reads from the database anyway
        self.stream_busy = True
        try:
            await self._fill_gap()
        finally:
            self.stream_busy = False
        await self._drain()

    async def _fill_gap(self, upto=None):
        """Send the stored events after the last one sent, up to (not including) `upto`."""
        def read():
            events = RoomEvent.objects.filter(room_id=self.room.pk, sequence__gt=self.last_seq)
            if upto is not None:
                events = events.filter(sequence__lt=upto)
            return list(events.order_by("sequence"))

        events = await database_sync_to_async(read)()
        for event in events:
            await self.send_frame(services.event_frame(event, self.room.key))
            self.last_seq = event.sequence

    async def _forward_notice(self, event, data, version_id):
        if not self.ready or (version_id is not None and version_id not in self.version_ids):
            return
        if self._allowed_now():
            data = {key: value for key, value in data.items() if key != "type"}
            await self.send_frame({"type": "live", "event": event, "data": data})

    # ------------------------------------------------------------ receiving

    async def receive(self, text_data=None, bytes_data=None):
        try:
            await self._receive(text_data, bytes_data)
        except Exception:  # noqa: BLE001 - the connection outlives a bug in one message
            logger.exception("review room %s: a message could not be handled", self.room.key)
            await self.error("server_error", "The server could not handle this message; nothing was changed.")

    async def _receive(self, text_data, bytes_data):
        if text_data is None:
            return await self.error("bad_frame", "Send JSON text frames, not binary ones.")
        if len(text_data) > MAX_MESSAGE_CHARS:
            return await self.error("too_large", f"A message is at most {MAX_MESSAGE_CHARS} characters.")
        try:
            message = json.loads(text_data)
        except ValueError as exc:
            return await self.error("bad_json", f"Not JSON: {exc}.")
        except RecursionError:
            return await self.error("bad_json", "Nested too deeply to read.")
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            return await self.error("invalid", 'A message is a JSON object with a string "type".')
        kind = message["type"]
        ref = message.get("op") if isinstance(message.get("op"), str) else None
        spec = MESSAGES.get(kind)
        if spec is None:
            return await self.error("unknown_type", f"Unknown message type {kind!r}; known: {', '.join(MESSAGES)}.",
                                    kind=kind, ref=ref)
        wait = self.buckets["live" if spec.live else "ops"].take()
        if not wait and not spec.live:
            wait = await database_sync_to_async(review_ops_wait)(self.user.pk)
        if wait:
            self.refusals += 1
            if self.refusals > MAX_REFUSALS:
                await self.close(code=4429)
                return
            return await self.error("rate_limited", f"Too many messages: wait {wait:.2f} s.", kind=kind, ref=ref,
                                    retry_after=round(wait, 3))
        self.refusals = 0
        if kind != "hello" and not self.ready:
            return await self.error("not_ready", "Send hello first.", kind=kind, ref=ref)
        serializer = spec.schema(data=message)
        if not serializer.is_valid():
            return await self.error("invalid", "; ".join(schemas.flatten_errors(serializer.errors)), kind=kind,
                                    ref=ref, errors=serializer.errors)
        self.message_count += 1
        current_request.set(RequestContext(
            request_id=f"{self.request_context.request_id}-{ref or self.message_count}"[:64],
            ip=self.request_context.ip, user_agent=self.request_context.user_agent))
        try:
            await spec.handler(self, serializer.validated_data, spec.capability)
        except AccessLost:
            await self.error("forbidden", "Your access to this production has ended.", kind=kind, ref=ref)
            await self.close(code=4403)
        except ValidationError as exc:
            detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
            await self.error("invalid", "; ".join(schemas.flatten_errors(detail)), kind=kind, ref=ref, errors=detail)
        except PermissionDenied as exc:
            await self.error("forbidden", str(exc) or "Not allowed.", kind=kind, ref=ref)
        except (Http404, ObjectDoesNotExist):
            await self.error("not_found", "No such item in this room.", kind=kind, ref=ref)
        except (OperationalError, InterfaceError):
            logger.warning("review room %s: %s failed, the database is not answering", self.room.key, kind,
                           exc_info=True)
            await self.error("unavailable", "The database is not answering; nothing was changed. Send it again "
                             f"in {UNAVAILABLE_RETRY_SECONDS} s.", kind=kind, ref=ref,
                             retry_after=UNAVAILABLE_RETRY_SECONDS)
        except Exception:  # noqa: BLE001 - the connection outlives a bug in one message
            logger.exception("review room %s: %s failed", self.room.key, kind)
            await self.error("server_error", "The server could not apply this message; nothing was changed.",
                             kind=kind, ref=ref)

    def _check_membership(self):
        # Every incoming message pays for this: two columns, no model instance.
        row = (Membership.objects.active().filter(pk=self.membership.pk, production__archived_at__isnull=True)
               .values_list("role", "expires_at").first())
        if row is None:
            raise AccessLost()
        self.membership.role, self.membership.expires_at = row
        self._remember(self.membership)
        return self.membership

    async def _db(self, capability, fn, *args, **kwargs):
        """Run `fn` on the database thread after re-reading the membership: access is checked on
        every message, and the check and the work share one hop."""
        def checked():
            require(self._check_membership(), capability)
            return fn(*args, **kwargs)

        return await database_sync_to_async(checked)()

    # ------------------------------------------------------------ message handlers

    async def on_hello(self, data, capability):
        # Events arriving while the welcome is read are held, then sent after it, minus those
        # the welcome already covers.
        self.stream_busy = True
        try:
            welcome = await self._db(capability, selectors.room_welcome, self.room.pk, since=data["since"])
            welcome["you"] = {
                "user": {"id": self.user.pk, "username": self.user.username, "name": self.user.printed_name},
                "role": self.membership.role, "presence": self.presence.public_id,
                "can": sorted(name for name in CAPABILITIES if can(self.membership, name)),
            }
            self.version_ids = set(welcome["state"]["versions"])
            self.presence_batches = data["presence_batches"]
            await self.send_frame(welcome)
            self.last_seq, self.ready = welcome["seq"], True
        finally:
            self.stream_busy = False
        await self._drain()

    async def on_ping(self, data, capability):
        await self._db(capability, services.touch_presence, channel_name=self.channel_name)
        await self.send_frame({"type": "pong"})

    async def on_presence(self, data, capability):
        await self._db(capability, services.move_presence, room=self.room, channel_name=self.channel_name,
                       changes=dict(data))

    async def on_pointer(self, data, capability):
        version = data.get("version") or next(iter(self.version_ids), None)
        if version not in self.version_ids:
            raise ValidationError({"version": "Not a version of this room."})
        await self._db(capability, lambda: None)
        frame = {"type": "pointer", "presence": self.presence.public_id,
                 "user": {"id": self.user.pk, "name": self.user.printed_name},
                 "x": data["x"], "y": data["y"], "frame": data["frame"], "version": version,
                 "visible": data["visible"]}
        await broadcast.asend_group(self.room.group_name, broadcast.live_message(frame, exclude=self.channel_name))

    async def _ack(self, op, applied):
        await self.send_frame({"type": "ack", "op": op, "seq": applied.sequence_in(self.room.pk),
                               "duplicate": applied.duplicate})

    def _version(self, version_id):
        """The version an operation is about: the room's own, or one of the session's playlist."""
        if version_id is None:
            if len(self.version_ids) != 1:
                raise ValidationError({"version": "Name the version of the playlist this is about."})
            version_id = next(iter(self.version_ids))
        if version_id not in self.version_ids:
            raise ValidationError({"version": "Not a version of this room."})
        return Version.objects.select_related("shot__production").get(pk=version_id)

    def _in_room(self, model, pk):
        return model.objects.select_related("version__shot__production").get(pk=pk, version_id__in=self.version_ids)

    async def on_annotation_create(self, data, capability):
        fields = dict(data["annotation"])

        def apply():
            version = self._version(fields.pop("version", None))
            return services.create_annotation(actor=self.user, version=version, op=data["op"], **fields)

        await self._ack(data["op"], await self._db(capability, apply))

    async def on_annotation_update(self, data, capability):
        changes = dict(data["changes"])
        reason = changes.pop("reason", "")
        applied = await self._db(capability, lambda: services.update_annotation(
            actor=self.user, annotation=self._in_room(Annotation, data["id"]), changes=changes, reason=reason,
            op=data["op"]))
        await self._ack(data["op"], applied)

    async def on_annotation_delete(self, data, capability):
        applied = await self._db(capability, lambda: services.delete_annotation(
            actor=self.user, annotation=self._in_room(Annotation, data["id"]), reason=data["reason"], op=data["op"]))
        await self._ack(data["op"], applied)

    async def on_comment_create(self, data, capability):
        fields = dict(data["comment"])

        def apply():
            version = self._version(fields.pop("version", None))
            parent_id = fields.pop("parent", None)
            parent = self._in_room(Comment, parent_id) if parent_id else None
            return services.create_comment(actor=self.user, version=version, parent=parent, op=data["op"], **fields)

        await self._ack(data["op"], await self._db(capability, apply))

    async def on_comment_edit(self, data, capability):
        applied = await self._db(capability, lambda: services.edit_comment(
            actor=self.user, comment=self._in_room(Comment, data["id"]), body=data["body"], reason=data["reason"],
            op=data["op"]))
        await self._ack(data["op"], applied)

    async def on_comment_delete(self, data, capability):
        applied = await self._db(capability, lambda: services.delete_comment(
            actor=self.user, comment=self._in_room(Comment, data["id"]), reason=data["reason"], op=data["op"]))
        await self._ack(data["op"], applied)

    async def on_comment_resolve(self, data, capability):
        applied = await self._db(capability, lambda: services.resolve_comment(
            actor=self.user, comment=self._in_room(Comment, data["id"]), op=data["op"]))
        await self._ack(data["op"], applied)

    async def on_comment_reopen(self, data, capability):
        applied = await self._db(capability, lambda: services.reopen_comment(
            actor=self.user, comment=self._in_room(Comment, data["id"]), op=data["op"]))
        await self._ack(data["op"], applied)

    async def on_playhead(self, data, capability):
        changes = dict(data)
        if changes.get("compare") is not None:
            changes["compare"] = dict(changes["compare"])
        await self._db(capability, services.update_playhead, actor=self.user, room=self.room, changes=changes,
                       exclude_channel=self.channel_name)

    def _room(self):
        return Room.objects.get(pk=self.room.pk)

    async def on_presenter_claim(self, data, capability):
        applied = await self._db(capability, lambda: services.claim_presenter(
            actor=self.user, room=self._room(), op=data["op"]))
        await self._ack(data["op"], applied)

    async def on_presenter_handover(self, data, capability):
        applied = await self._db(capability, lambda: services.hand_over_presenter(
            actor=self.user, room=self._room(), to_user_id=data["to"], op=data["op"]))
        await self._ack(data["op"], applied)

    async def on_presenter_release(self, data, capability):
        applied = await self._db(capability, lambda: services.release_presenter(
            actor=self.user, room=self._room(), op=data["op"]))
        await self._ack(data["op"], applied)


C = ReviewRoomConsumer
MESSAGES = {
    "hello": _Spec(schemas.HelloMessage, C.on_hello, live=True),
    "ping": _Spec(schemas.EmptyMessage, C.on_ping, live=True),
    "presence": _Spec(schemas.PresenceMessage, C.on_presence, live=True),
    "pointer": _Spec(schemas.PointerMessage, C.on_pointer, live=True),
    "playhead": _Spec(schemas.PlayheadMessage, C.on_playhead, live=True),
    "annotation.create": _Spec(schemas.AnnotationCreateMessage, C.on_annotation_create, capability="annotate"),
    "annotation.update": _Spec(schemas.AnnotationUpdateMessage, C.on_annotation_update, capability="annotate"),
    "annotation.delete": _Spec(schemas.TargetMessage, C.on_annotation_delete, capability="annotate"),
    "comment.create": _Spec(schemas.CommentCreateMessage, C.on_comment_create, capability="comment"),
    "comment.edit": _Spec(schemas.CommentEditMessage, C.on_comment_edit, capability="comment"),
    "comment.delete": _Spec(schemas.TargetMessage, C.on_comment_delete, capability="comment"),
    "comment.resolve": _Spec(schemas.TargetMessage, C.on_comment_resolve, capability="comment"),
    "comment.reopen": _Spec(schemas.TargetMessage, C.on_comment_reopen, capability="comment"),
    "presenter.claim": _Spec(schemas.OpMessage, C.on_presenter_claim),
    "presenter.handover": _Spec(schemas.HandoverMessage, C.on_presenter_handover),
    "presenter.release": _Spec(schemas.OpMessage, C.on_presenter_release),
}
del C


class VersionRoomConsumer(ReviewRoomConsumer):
    room_kind = "version"


class SessionRoomConsumer(ReviewRoomConsumer):
    room_kind = "session"

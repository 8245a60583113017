"""Channel-layer messages between the services and the room consumers.

The channel layer delivers at most once; nothing here is the record. Stored events live in
RoomEvent and a client that missed one gets it on reconnect or when the next event shows a gap.
Sending never raises into the caller: the change is committed already and must not be reported
as failed because Redis hiccupped.
"""
import json
import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder

logger = logging.getLogger(__name__)


def room_group(room_key):
    return f"review.{room_key}"


def production_group(production_id):
    # Shared with the media pipeline, which publishes asset progress to the same group.
    return f"production-{production_id}"


def encode(frame):
    return json.dumps(frame, cls=DjangoJSONEncoder, separators=(",", ":"))


def stored_event_message(event_frame):
    """A group message carrying one stored room event, encoded once for every receiver."""
    return {"type": "room.event", "seq": event_frame["seq"], "event": event_frame["event"],
            "text": encode(event_frame)}


def live_message(frame, *, exclude=None, version=None, batch=False):
    """A group message for something that is not stored (presence, pointer, playhead).

    `batch`: may wait a moment to go out with others as one `presence.batch` frame (see hub.py)."""
    return {"type": "room.live", "text": encode(frame), "exclude": exclude or "", "version": version,
            "batch": batch}


def batch_text(texts):
    """One `presence.batch` frame holding already-encoded frames, in order."""
    return '{"type":"presence.batch","frames":[' + ",".join(texts) + "]}" if texts else None


async def asend_group(group, message):
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        await layer.group_send(group, message)
    except Exception:  # noqa: BLE001 - see the module docstring
        logger.exception("could not publish %s to %s", message.get("type"), group)


def send_group(group, message):
    async_to_sync(asend_group)(group, message)

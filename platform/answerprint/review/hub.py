"""One channel-layer subscription per room per web process, shared by that room's connections.

Channels' usual pattern - every connection joins the room's group - makes the channel layer
queue, wake and dispatch each message once per connection: measured here at roughly 0.15 ms of
CPU per delivery before a byte is written, which puts 500 watchers well past 50 ms. The hub
receives each message once and hands it to the room's local connections in one pass; every
connection still decides for itself what to send (order, duplicates, access), see
`ReviewRoomConsumer.take`.

Presence changes are also batched here: when hundreds join a review at once, sending each
arrival to everyone already there is quadratic (125,000 frames for 500 people). Presence frames
that arrive within PRESENCE_BATCH_SECONDS go out together as one `presence.batch` frame to the
connections that asked for batches in their hello, one by one to the others.

The hub outlives its channel layer's failures: after any error (Redis restarted, a connection
reset) it waits a moment, adds its channel to the groups again - a restarted Redis may have
forgotten them - and asks every connection to read from the database what was published while
it was away. The waits are short and capped (RESUBSCRIBE_BACKOFF) so live delivery resumes
within about a second of Redis answering again.
"""
import asyncio
import logging

from .broadcast import batch_text

PRESENCE_BATCH_SECONDS = 0.2
# Seconds to wait after the n-th failure in a row; the last value repeats.
RESUBSCRIBE_BACKOFF = (0.05, 0.1, 0.25, 0.5, 1.0)
# channels-redis drops a channel from a group after its group_expiry (a day by default); a hub
# can live longer than that, so it adds itself again now and then.
GROUP_REFRESH_SECONDS = 3600.0

logger = logging.getLogger(__name__)


class RoomHub:
    _hubs = {}  # group name -> hub; a hub belongs to one event loop and one channel layer

    def __init__(self, layer, groups):
        self.layer, self.groups = layer, groups
        self.loop = asyncio.get_running_loop()
        self.members = set()
        self.closing = False
        self.channel = None
        self.task = None
        self.batched = []  # (encoded frame, channel it must not go to)
        self.flush_handle = None
        self.started = asyncio.ensure_future(self._start())

    @classmethod
    async def enter(cls, consumer, room_group, production_group):
        """Add a connection to its room's hub, starting the hub if it is the first here."""
        hub = cls._hubs.get(room_group)
        if hub is None or hub.closing or hub.loop is not asyncio.get_running_loop() \
                or hub.layer is not consumer.channel_layer:
            hub = cls(consumer.channel_layer, [room_group, production_group])
            cls._hubs[room_group] = hub
        hub.members.add(consumer)
        try:
            await asyncio.shield(hub.started)
        except BaseException:
            await hub.leave(consumer)
            raise
        return hub

    async def _start(self):
        self.channel = await self.layer.new_channel()
        await self._subscribe()
        self.task = asyncio.ensure_future(self._run())
        self.refresher = asyncio.ensure_future(self._refresh_groups())

    async def _subscribe(self):
        for group in self.groups:
            await self.layer.group_add(group, self.channel)

    async def _refresh_groups(self):
        while True:
            await asyncio.sleep(GROUP_REFRESH_SECONDS)
            try:
                await self._subscribe()
            except Exception:  # noqa: BLE001 - _run notices a layer that is away and recovers
                logger.warning("room hub %s could not refresh its groups", self.groups[0], exc_info=True)

    async def _recover(self, failures):
        """Wait, then subscribe again; True once the layer answers."""
        await asyncio.sleep(RESUBSCRIBE_BACKOFF[min(failures, len(RESUBSCRIBE_BACKOFF)) - 1])
        try:
            await self._subscribe()
        except Exception as error:  # noqa: BLE001 - still away; the caller waits longer
            logger.debug("room hub %s could not subscribe yet: %s", self.groups[0], error)
            return False
        logger.warning("room hub %s is receiving again after %d failed attempts", self.groups[0], failures)
        for member in tuple(self.members):
            member.catch_up()
        return True

    async def leave(self, consumer):
        self.members.discard(consumer)
        if self.members or self.closing:
            return
        self.closing = True
        if RoomHub._hubs.get(self.groups[0]) is self:
            del RoomHub._hubs[self.groups[0]]
        try:
            await asyncio.shield(self.started)
        except Exception:  # noqa: BLE001 - it never started; nothing to undo
            return
        self.task.cancel()
        self.refresher.cancel()
        if self.flush_handle is not None:
            self.flush_handle.cancel()
        try:
            for group in self.groups:
                await self.layer.group_discard(group, self.channel)
        except Exception:  # noqa: BLE001 - the layer is away; its group entries expire on their own
            logger.warning("room hub %s could not leave its groups", self.groups[0], exc_info=True)

    async def _run(self):
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - Redis went away; it may come back
                logger.warning("room hub %s lost the channel layer (%s: %s); subscribing again",
                               self.groups[0], type(error).__name__, error)
                failures = 1
                while not await self._recover(failures):
                    failures += 1
                continue
            if message.get("type") == "room.live" and message.get("batch"):
                self.batched.append((message["text"], message.get("exclude") or ""))
                if self.flush_handle is None:
                    self.flush_handle = self.loop.call_later(
                        PRESENCE_BATCH_SECONDS, lambda: asyncio.ensure_future(self._flush()))
                continue
            for member in tuple(self.members):
                try:
                    await member.take(message)
                except Exception:  # noqa: BLE001 - one broken connection must not starve the room
                    logger.exception("room hub %s could not deliver to a connection", self.groups[0])

    async def _flush(self):
        self.flush_handle = None
        batched, self.batched = self.batched, []
        excluded = {exclude for _, exclude in batched if exclude}
        shared = batch_text([text for text, _ in batched])
        for member in tuple(self.members):
            if member.presence_batches:
                texts = [shared if member.channel_name not in excluded else
                         batch_text([text for text, exclude in batched if exclude != member.channel_name])]
            else:
                texts = [text for text, exclude in batched if exclude != member.channel_name]
            try:
                for text in texts:
                    if text is not None:
                        await member.take_live(text)
            except Exception:  # noqa: BLE001 - as in _run
                logger.exception("room hub %s could not deliver presence to a connection", self.groups[0])

"""A room outlives what goes wrong around one connection: a message that breaks the parser, an
error that ends a connection, a web process that dies without saying goodbye, a channel layer
that fails for a moment. The real-Redis, real-process versions are in tests/faults/."""
import asyncio
from datetime import timedelta
from unittest import mock

import pytest
from channels.db import database_sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.core.checks import run_checks
from django.db import OperationalError
from django.utils import timezone

from answerprint.review import consumers, services
from answerprint.review.models import RoomPresence
from tests.review.conftest import joined, run_async

DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.django_db(transaction=True)
@run_async
async def test_deeply_nested_json_gets_an_error_frame_and_the_connection_lives(review):
    # given a member in the room
    client, _ = await joined(review.path, review.cookie(review.supervisor))

    # when they send JSON nested deeper than the parser can follow
    await client.send_raw(DEEP)

    # then they are told, and the connection still answers
    error = await client.receive_type("error")
    assert error["code"] == "bad_json"
    await client.send(type="ping")
    assert (await client.receive_type("pong"))["type"] == "pong"
    await client.close()


@pytest.mark.django_db(transaction=True)
@run_async
async def test_a_connection_ended_by_an_error_leaves_the_room_for_everyone_else(review):
    # given two members in the room
    alice, _ = await joined(review.path, review.cookie(review.supervisor), presence_batches=False)
    bob, _ = await joined(review.path, review.cookie(review.producer), presence_batches=False)
    assert (await alice.receive_type("presence.joined"))["user"]["id"] == review.producer.pk

    # when bob's connection dies on an error nothing inside it catches
    with mock.patch.object(consumers.ReviewRoomConsumer, "receive", side_effect=RuntimeError("boom")):
        await bob.send(type="ping")
        with pytest.raises(RuntimeError):
            while True:  # frames already on their way come first
                await bob.communicator.receive_output(timeout=5)

    # then alice is told he left and his presence row is gone
    left = await alice.receive_type("presence.left")
    assert left["user"]["id"] == review.producer.pk
    assert not await database_sync_to_async(
        RoomPresence.objects.filter(user=review.producer).exists)()
    await alice.close()


@pytest.mark.django_db(transaction=True)
@run_async
async def test_presence_that_stopped_heartbeating_expires_and_the_room_is_told(review):
    # given alice in the room, and a row left by bob's connection on a web process that died
    alice, _ = await joined(review.path, review.cookie(review.supervisor), presence_batches=False)
    room = await database_sync_to_async(lambda: RoomPresence.objects.get(user=review.supervisor).room)()
    long_ago = timezone.now() - services.PRESENCE_TTL - timedelta(seconds=1)
    ghost = await database_sync_to_async(RoomPresence.objects.create)(
        room=room, user=review.producer, channel_name="specific.dead!1", public_id="ghost1",
        joined_at=long_ago, seen_at=long_ago)

    # when the presence sweep runs
    expired = await database_sync_to_async(services.expire_presence)()

    # then only the ghost goes, and alice is told
    assert expired == 1
    left = await alice.receive_type("presence.left")
    assert left["id"] == ghost.public_id
    assert await database_sync_to_async(RoomPresence.objects.filter(user=review.supervisor).exists)()
    await alice.close()


class FlakyLayer(InMemoryChannelLayer):
    """The in-process layer, able to fail like a restarting Redis: receivers get a connection
    error, and it forgets every group."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.down = False
        self.broken = asyncio.Event()

    async def receive(self, channel):
        if self.down:
            raise ConnectionError("Connection refused")
        received = asyncio.ensure_future(super().receive(channel))
        broken = asyncio.ensure_future(self.broken.wait())
        done, _ = await asyncio.wait({received, broken}, return_when=asyncio.FIRST_COMPLETED)
        if received in done:
            broken.cancel()
            return received.result()
        received.cancel()
        raise ConnectionError("Connection reset by peer")

    async def group_add(self, group, channel):
        if self.down:
            raise ConnectionError("Connection refused")
        return await super().group_add(group, channel)

    def stop(self):
        self.down = True
        self.groups.clear()
        self.broken.set()

    def start(self):
        self.broken = asyncio.Event()
        self.down = False


@pytest.mark.django_db(transaction=True)
@run_async
async def test_the_hub_subscribes_again_after_the_layer_fails_and_sends_what_it_missed(review, settings):
    # given a member in a room whose channel layer is about to fail
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "tests.review.test_resilience.FlakyLayer"}}
    layer = get_channel_layer()
    client, welcome = await joined(review.path, review.cookie(review.supervisor))

    # when Redis restarts (groups forgotten), an annotation is stored while it is away, and it comes back
    layer.stop()
    await asyncio.sleep(0.3)
    await database_sync_to_async(_draw_as)(review.producer, review.version)
    layer.start()

    # then within two seconds the member gets the stored event it missed, and live events flow again
    missed = await client.receive_type("event", timeout=2)
    assert missed["seq"] == welcome["seq"] + 1 and missed["event"] == "annotation.created"
    await database_sync_to_async(_draw_as)(review.producer, review.version)
    live = await client.receive_type("event", timeout=2)
    assert live["seq"] == missed["seq"] + 1
    await client.close()


def _draw_as(user, version):
    return services.create_annotation(actor=user, version=version, op=None, frame=3, shape="line",
                                      points=[[0.1, 0.2], [0.8, 0.9]])


def test_the_channel_layer_socket_timeout_must_outlast_the_blocking_read(settings):
    # given a Redis channel layer whose socket timeout equals channels-redis's 5 s blocking read
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {
        "hosts": [{"address": "redis://127.0.0.1:6379/0", "socket_timeout": 5}]}}}

    # when the system checks run
    errors = [error.id for error in run_checks()]

    # then the configuration is refused; the shipped setting passes
    assert "review.E002" in errors
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {
        "hosts": [{"address": "redis://127.0.0.1:6379/0", "socket_timeout": 15}]}}}
    assert "review.E002" not in [error.id for error in run_checks()]


@pytest.mark.django_db(transaction=True)
@run_async
async def test_a_write_while_the_database_is_down_is_refused_as_unavailable_and_can_be_sent_again(review):
    # given a member drawing in the room
    client, _ = await joined(review.path, review.cookie(review.supervisor))

    # when the database does not answer for their drawing
    with mock.patch.object(services, "create_annotation", side_effect=OperationalError("connection refused")):
        await client.send(type="annotation.create", op="draw-1", annotation={
            "frame": 3, "shape": "line", "points": [[0.1, 0.2], [0.8, 0.9]]})
        refused = await client.receive_type("error")

    # then they are told to send it again, and the same op goes through once the database is back
    assert refused["code"] == "unavailable" and refused["ref"] == "draw-1" and refused["retry_after"] > 0
    await client.send(type="annotation.create", op="draw-1", annotation={
        "frame": 3, "shape": "line", "points": [[0.1, 0.2], [0.8, 0.9]]})
    ack = await client.receive_type("ack")
    assert ack["op"] == "draw-1" and ack["duplicate"] is False
    await client.close()

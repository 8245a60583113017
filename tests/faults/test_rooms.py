"""Review rooms under faults, with real processes: daphne and a Redis of the test's own.

After every test the audit chain is verified (`audit_verify`) in the shared database."""
import asyncio
import json
import time

import pytest

from tests.processes import WORLD, environment, manage, run_script, start_daphne, stop

pytestmark = pytest.mark.slow


class Socket:
    """A tool's connection to a room (the `websockets` library), with the frames it received."""

    def __init__(self, connection):
        self.connection = connection
        self.frames = []

    @classmethod
    async def join(cls, port, token, version, since=0):
        from websockets.asyncio.client import connect

        connection = await connect(f"ws://127.0.0.1:{port}/ws/review/versions/{version}/",
                                   origin=f"http://127.0.0.1:{port}",
                                   additional_headers={"Authorization": f"Token {token}"}, open_timeout=20,
                                   ping_interval=None)
        socket_ = cls(connection)
        await socket_.send(type="hello", since=since, presence_batches=False)
        socket_.welcome = await socket_.next("welcome")
        return socket_

    async def send(self, **frame):
        await self.connection.send(json.dumps(frame))

    async def next(self, *types, timeout=10):
        async with asyncio.timeout(timeout):
            while True:
                frame = json.loads(await self.connection.recv())
                self.frames.append(frame)
                if frame["type"] in types:
                    return frame

    async def events(self, count, timeout=10):
        return [await self.next("event", timeout=timeout) for _ in range(count)]

    async def draw(self, op, frame=3):
        await self.send(type="annotation.create", op=op,
                        annotation={"frame": frame, "shape": "line", "points": [[0, 0], [1, 1]]})
        return await self.next("ack", "error")


@pytest.fixture
def room_stack(tmp_path, own_redis):
    """A Redis that forgets everything when it restarts (the worst case), one daphne, a production
    with two versions (two rooms) and three members with API tokens."""
    redis = own_redis(persistent=False)
    env = environment(tmp_path, redis.url)
    world = run_script(env, WORLD)
    daphne, port = start_daphne(env, tmp_path / "daphne.log")
    try:
        yield {**world, "port": port, "redis": redis, "env": env, "log": tmp_path / "daphne.log"}
    finally:
        stop(daphne)
    verified = manage(env, "audit_verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_room_left_idle_for_a_minute_stays_open_and_leaves_no_ghost(room_stack):
    world = room_stack
    ana_token, ben_token, _ = world["tokens"]
    version = world["versions"][0]

    async def scenario():
        # given two people in a room on a real Redis channel layer
        ana = await Socket.join(world["port"], ana_token, version)
        ben = await Socket.join(world["port"], ben_token, version)
        await ana.next("presence.joined")

        # when nobody sends anything for a minute: past every socket and blocking-read timeout,
        # inside the 90 s presence TTL
        await asyncio.sleep(60)

        # then both connections are still open and live: a ping is answered, a drawing arrives
        await ana.send(type="ping")
        await ana.next("pong")
        assert (await ben.draw("ben-1"))["type"] == "ack"
        drawn = await ana.next("event")
        # and when ben leaves, ana is told at once: no ghost stays behind
        await ben.connection.close()
        left = await ana.next("presence.left")
        await ana.connection.close()
        return drawn, left

    drawn, left = asyncio.run(scenario())
    assert drawn["op"] == "ben-1" and left["user"]["username"] == "ben"
    log = world["log"].read_text()
    assert "could not receive" not in log and "TimeoutError" not in log, log[-3000:]


def test_redis_killed_and_restarted_under_two_rooms_loses_nothing_and_live_delivery_resumes(room_stack):
    world = room_stack
    ana_token, ben_token, cy_token = world["tokens"]
    first_room, second_room = world["versions"]

    async def scenario():
        # given ana watching the first room, ben the second, and cy drawing in both
        ana = await Socket.join(world["port"], ana_token, first_room)
        ben = await Socket.join(world["port"], ben_token, second_room)
        cy_first = await Socket.join(world["port"], cy_token, first_room)
        cy_second = await Socket.join(world["port"], cy_token, second_room)
        assert (await cy_first.draw("before-1"))["type"] == "ack"
        assert (await cy_second.draw("before-2"))["type"] == "ack"
        await ana.events(1)
        await ben.events(1)

        # when Redis dies, cy keeps drawing (stored, but nothing can be published) ...
        world["redis"].kill()
        during = [await cy_first.draw(f"during-{n}") for n in range(3)]
        during += [await cy_second.draw(f"during-{n}") for n in range(3, 5)]
        # ... and Redis comes back, empty
        world["redis"].start()
        back = time.monotonic()

        # then what was stored while it was away reaches the watchers, within two seconds
        missed_first = await ana.events(3, timeout=5)
        missed_second = await ben.events(2, timeout=5)
        caught_up = time.monotonic() - back
        # and live delivery works again
        assert (await cy_first.draw("after-1"))["type"] == "ack"
        live = (await ana.events(1))[0]
        # and a newcomer asking since the start gets everything, in order
        dan = await Socket.join(world["port"], ben_token, first_room, since=0)
        for socket_ in (ana, ben, cy_first, cy_second, dan):
            await socket_.connection.close()
        return during, missed_first, missed_second, caught_up, live, dan.welcome

    during, missed_first, missed_second, caught_up, live, welcome = asyncio.run(scenario())
    assert all(ack["type"] == "ack" for ack in during), during
    assert [e["seq"] for e in missed_first] == [2, 3, 4] and [e["seq"] for e in missed_second] == [2, 3]
    assert [e["op"] for e in missed_first] == ["during-0", "during-1", "during-2"]
    assert caught_up < 2.0, f"caught up {caught_up:.2f} s after Redis came back"
    assert live["seq"] == 5 and live["op"] == "after-1"
    assert [e["seq"] for e in welcome["missed"]] == [1, 2, 3, 4, 5]


def test_a_message_that_breaks_the_parser_gets_an_error_and_leaves_no_ghost(room_stack):
    world = room_stack
    ana_token, ben_token, _ = world["tokens"]
    version = world["versions"][0]

    async def scenario():
        # given two people in a room
        ana = await Socket.join(world["port"], ana_token, version)
        ben = await Socket.join(world["port"], ben_token, version)
        await ana.next("presence.joined")

        # when ben's tool sends JSON nested a hundred thousand deep
        await ben.connection.send("[" * 100_000 + "]" * 100_000)

        # then ben is told, and his connection still works
        error = await ben.next("error")
        await ben.send(type="ping")
        await ben.next("pong")
        # and when he leaves, ana sees him go
        await ben.connection.close()
        left = await ana.next("presence.left")
        await ana.connection.close()
        return error, left

    error, left = asyncio.run(scenario())
    assert error["code"] == "bad_json"
    assert left["user"]["username"] == "ben"

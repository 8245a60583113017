"""A room while its PostgreSQL restarts, with real processes: daphne, a Redis and a PostgreSQL
cluster of the test's own (never the machine's shared ones)."""
import asyncio

import pytest

from tests.faults.test_rooms import Socket
from tests.processes import WORLD, PostgresServer, environment, manage, run_script, start_daphne, stop

pytestmark = pytest.mark.slow


@pytest.fixture
def postgres():
    try:
        server = PostgresServer()
    except (RuntimeError, OSError, KeyError) as error:
        pytest.skip(f"no private PostgreSQL cluster can be made here: {error}")
    try:
        yield server.start()
    finally:
        try:
            server.stop(mode="immediate")
        except RuntimeError:
            pass  # already stopped
        server.remove()


def test_writes_in_a_room_fail_clearly_while_postgres_restarts_and_resume_after(tmp_path, postgres, own_redis):
    # given a room served by daphne on its own PostgreSQL
    redis = own_redis(persistent=False)
    env = environment(tmp_path, redis.url, DATABASE_URL=postgres.url)
    world = run_script(env, WORLD)
    daphne, port = start_daphne(env, tmp_path / "daphne.log")
    ana_token, ben_token, _ = world["tokens"]
    version = world["versions"][0]

    async def scenario():
        ana = await Socket.join(port, ana_token, version)
        ben = await Socket.join(port, ben_token, version)
        before = await ben.draw("before")
        await ana.events(1)

        # when PostgreSQL goes down under the room, and ben keeps drawing
        postgres.stop(mode="immediate")
        during = await ben.draw("during")
        await ben.send(type="ping")
        alive = await ben.next("pong", "error")

        # and it comes back
        postgres.start()
        after = await ben.draw("after")
        seen = await ana.events(1)
        for socket_ in (ana, ben):
            await socket_.connection.close()
        return before, during, alive, after, seen

    try:
        before, during, alive, after, seen = asyncio.run(scenario())
    finally:
        stop(daphne)

    # then the write during the outage was refused with a clear error saying to send it again,
    # on a connection that lived
    assert before["type"] == "ack" and before["seq"] == 1
    assert during["type"] == "error" and during["code"] == "unavailable" and during["ref"] == "during"
    assert "nothing was changed" in during["message"] and during["retry_after"] > 0
    assert alive["type"] == "error" and alive["code"] == "unavailable"
    # and writes resumed, numbered straight after the last stored one, and the others saw them
    assert after["type"] == "ack" and after["seq"] == 2
    assert seen[0]["op"] == "after" and seen[0]["seq"] == 2
    # and the audit chain is intact
    verified = manage(env, "audit_verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr

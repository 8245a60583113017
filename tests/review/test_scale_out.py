"""Two daphne processes sharing one Redis channel layer and one database serve one room: a
client on each sees what the other draws, numbered in one sequence.

The servers are real subprocesses on loopback, with a migrated SQLite file both can open; the
clients are the `websockets` library, as a pipeline tool would use it."""
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parents[2]
DAPHNE = Path(sys.executable).with_name("daphne")

SEED = """
import json, django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from answerprint.accounts.tokens import create_token
from answerprint.accounts.models import Membership, Production, User
from answerprint.media.models import Shot, Version
production = Production.objects.create(code="scale-out", title="Scale out")
version = Version.objects.create(shot=Shot.objects.create(production=production, name="SC001_SH010",
                                                          first_frame=1001, last_frame=1100), number=1)
tokens = []
for name, role in (("ana", "supervisor"), ("ben", "producer")):
    user = User.objects.create_user(username=name, password="not-used-here-1")
    Membership.objects.create(production=production, user=user, role=role)
    tokens.append(create_token(actor=user, name="scale-out")[1])
print(json.dumps({"version": version.pk, "tokens": tokens}))
"""


def _redis_answers(url):
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), timeout=1) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith((b"+PONG", b"-NOAUTH"))
    except OSError:
        return False


@pytest.fixture
def redis_url(tmp_path):
    url = os.environ.get("REDIS_URL")
    if url:
        if not _redis_answers(url):
            pytest.skip(f"REDIS_URL={url} does not answer: two web processes need a shared Redis")
        yield url
        return
    from answerprint.localredis import start_private_redis

    try:
        url, process = start_private_redis(tmp_path / "redis")
    except (OSError, RuntimeError) as exc:
        pytest.skip(f"no Redis reachable and none could be started ({exc}): set REDIS_URL")
    yield url
    process.terminate()
    process.wait(10)


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_port(port, process, deadline):
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"daphne on port {port} exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"daphne on port {port} did not listen in time")


@pytest.fixture
def two_servers(tmp_path, redis_url):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'shared.sqlite3'}", "REDIS_URL": redis_url,
           "ANSWERPRINT_VAR_DIR": str(tmp_path / "var"), "PYTHONPATH": f"{ROOT / 'platform'}:{ROOT}",
           "DJANGO_SETTINGS_MODULE": "answerprint.settings", "DEBUG": "1",
           "ALLOWED_HOSTS": "127.0.0.1,localhost", "LOG_LEVEL": "WARNING"}
    seeded = subprocess.run([sys.executable, "-c", SEED], env=env, cwd=ROOT, capture_output=True, text=True,
                            timeout=180)
    assert seeded.returncode == 0, seeded.stderr[-2000:]
    world = json.loads(seeded.stdout.strip().splitlines()[-1])
    ports = [_free_port(), _free_port()]
    logs = [open(tmp_path / f"daphne-{port}.log", "w") for port in ports]
    processes = [subprocess.Popen([str(DAPHNE), "-b", "127.0.0.1", "-p", str(port), "answerprint.asgi:application"],
                                  env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
                 for port, log in zip(ports, logs)]
    try:
        deadline = time.monotonic() + 120
        for port, process in zip(ports, processes):
            _wait_for_port(port, process, deadline)
        yield {**world, "ports": ports}
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        for log in logs:
            log.close()


async def _client(port, token, version):
    from websockets.asyncio.client import connect

    socket_ = await connect(f"ws://127.0.0.1:{port}/ws/review/versions/{version}/",
                            origin=f"http://127.0.0.1:{port}", additional_headers={"Authorization": f"Token {token}"},
                            open_timeout=20)
    await socket_.send(json.dumps({"type": "hello", "since": 0}))
    while json.loads(await socket_.recv())["type"] != "welcome":
        pass
    return socket_


async def _events(socket_, count, timeout=30):
    events = []
    async with asyncio.timeout(timeout):
        while len(events) < count:
            frame = json.loads(await socket_.recv())
            if frame["type"] == "event":
                events.append(frame)
            elif frame["type"] == "error":
                raise AssertionError(frame)
    return events


def _draw(op, frame):
    return json.dumps({"type": "annotation.create", "op": op,
                       "annotation": {"frame": frame, "shape": "line", "points": [[0, 0], [1, 1]]}})


def test_a_client_on_one_server_receives_an_annotation_sent_through_the_other(two_servers):
    world = two_servers
    (port_a, port_b), (token_a, token_b) = world["ports"], world["tokens"]

    async def scenario():
        # given ana connected to the first server and ben to the second, in the same room
        ana = await _client(port_a, token_a, world["version"])
        ben = await _client(port_b, token_b, world["version"])
        try:
            # when ana draws through the first server
            await ana.send(_draw("ana-0", 7))
            first = (await _events(ben, 1))[0]

            # and then both draw at once, ten drawings each, through their own servers
            for i in range(1, 11):
                await ana.send(_draw(f"ana-{i}", i))
                await ben.send(_draw(f"ben-{i}", i))
            seen_by_ana, seen_by_ben = await asyncio.gather(_events(ana, 21), _events(ben, 20))
            return first, seen_by_ana, seen_by_ben
        finally:
            await ana.close()
            await ben.close()

    first, seen_by_ana, seen_by_ben = asyncio.run(scenario())

    # then ben got ana's drawing through the other process
    assert (first["event"], first["op"], first["data"]["frame"], first["seq"]) == ("annotation.created", "ana-0", 7, 1)
    # and both saw all 21 drawings, in one gap-free order, each once
    assert [e["seq"] for e in seen_by_ana] == list(range(1, 22))
    assert [e["seq"] for e in [first, *seen_by_ben]] == list(range(1, 22))
    assert [e["op"] for e in seen_by_ana] == [first["op"]] + [e["op"] for e in seen_by_ben]
    assert {e["op"] for e in seen_by_ben} == {f"{who}-{i}" for who in ("ana", "ben") for i in range(1, 11)}

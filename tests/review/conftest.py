import functools
import json
from dataclasses import dataclass

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import Client

from answerprint.accounts.models import Role
from tests.factories import ProductionFactory, ShotFactory, VersionFactory, member

ORIGIN = (b"origin", b"http://localhost")
HOST = (b"host", b"localhost")  # the page and its room are on one origin, as in a browser
WAIT = 5  # seconds; generous, the machine is shared


def run_async(test):
    """Run an async test body to completion from a plain pytest test (no asyncio plugin): the
    body's database calls come back to the test's own thread and connection."""

    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        return async_to_sync(test)(*args, **kwargs)

    return wrapper


@pytest.fixture(autouse=True)
def _one_process_channel_layer(settings):
    # Room tests run in one process; the scale-out test starts its own servers on Redis.
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


@pytest.fixture(autouse=True)
def _quick_password_hashing(settings):
    # Each test makes several users; the real hasher costs about a second apiece here.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def session_cookie(user):
    client = Client()
    client.force_login(user)
    return (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())


def token_for(user):
    from answerprint.accounts.tokens import create_token

    return create_token(actor=user, name="review tests")[1]


@dataclass
class Review:
    production: object
    shot: object
    version: object
    producer: object
    supervisor: object
    viewer: object
    outsider: object
    cookies: dict

    def cookie(self, user):
        return self.cookies[user.pk]

    @property
    def path(self):
        return f"/ws/review/versions/{self.version.pk}/"


@pytest.fixture
def review():
    production = ProductionFactory()
    shot = ShotFactory(production=production, first_frame=1001, last_frame=1048)
    version = VersionFactory(shot=shot)
    people = dict(producer=member(production, Role.PRODUCER), supervisor=member(production, Role.SUPERVISOR),
                  viewer=member(production, Role.VIEWER), outsider=member(ProductionFactory(), Role.PRODUCER))
    return Review(production=production, shot=shot, version=version, **people,
                  cookies={user.pk: session_cookie(user) for user in people.values()})


def application():
    from answerprint.asgi import application as app

    return app


class Client_:
    """A WebSocket client of a room, for tests: JSON in, JSON out, with generous timeouts."""

    def __init__(self, communicator):
        self.communicator = communicator
        self.unpacked = []  # frames of a presence.batch not yet handed out

    async def send(self, **message):
        await self.communicator.send_to(text_data=json.dumps(message))

    async def send_raw(self, text=None, data=None):
        await self.communicator.send_to(text_data=text, bytes_data=data)

    async def receive(self, timeout=WAIT):
        """The next frame; the frames of a presence batch come one by one, in order."""
        if self.unpacked:
            return self.unpacked.pop(0)
        frame = json.loads(await self.communicator.receive_from(timeout=timeout))
        if frame["type"] == "presence.batch":
            self.unpacked = list(frame["frames"])
            return await self.receive(timeout)
        return frame

    async def receive_type(self, *types, timeout=WAIT):
        """The next frame of one of `types`, skipping presence and other chatter."""
        while True:
            frame = await self.receive(timeout)
            if frame["type"] in types:
                return frame

    async def news(self, timeout=0.3):
        """Frames other than presence changes that arrive within `timeout` (people come and go
        in the background; that is not news to these tests)."""
        frames = []
        while self.unpacked or not await self.communicator.receive_nothing(timeout=timeout):
            frame = await self.receive()
            if not frame["type"].startswith("presence."):
                frames.append(frame)
        return frames

    async def hello(self, since=None, **options):
        await self.send(type="hello", since=since, **options)
        return await self.receive_type("welcome")

    async def close(self):
        await self.communicator.disconnect()


async def open_room(path, *, cookie=None, token=None, origin=ORIGIN, subprotocols=None, headers=()):
    """Connect; returns (client, accepted, close code or subprotocol)."""
    all_headers = [h for h in (HOST, origin, cookie) if h is not None] + list(headers)
    if token is not None:
        all_headers.append((b"authorization", f"Token {token}".encode()))
    communicator = WebsocketCommunicator(application(), path, headers=all_headers, subprotocols=subprotocols)
    accepted, detail = await communicator.connect(timeout=WAIT)
    return Client_(communicator), accepted, detail


async def joined(path, cookie, since=None, **options):
    """A connected client that has said hello; returns (client, welcome)."""
    client, accepted, detail = await open_room(path, cookie=cookie)
    assert accepted, detail
    welcome = await client.hello(since, **options)
    return client, welcome

"""Request body limits per location, applied before Django reads (and spools) a single byte.

Django's ASGI handler copies the whole body into a temporary file before any view, middleware
or authentication runs, and with FILE_UPLOAD_MAX_MEMORY_SIZE = 0 that file is on disk. So this
ASGI middleware sits in front of it: a body larger than its location allows is refused with 413
from the Content-Length header alone, or, when the length is not declared, as soon as the bytes
received pass the limit. Only the upload locations take large bodies, and only from a caller
who is signed in (session cookie or API token); anyone else gets 401 before the body is read.
nginx applies the same caps per location (deploy/nginx.conf) and asks `upload_gate` whether the
caller is signed in before it takes an upload's body. That matters under daphne: Twisted reads
a whole body before the application is called, so in production it is nginx that keeps
unwanted bytes off the disk; this middleware keeps Django from spooling and handling them.
"""
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from http.cookies import SimpleCookie

from asgiref.sync import sync_to_async
from django.conf import settings

from answerprint.media.timeline import MAX_TIMELINE_BYTES
from answerprint.media.uploads import FORM_OVERHEAD_BYTES, human_size


@dataclass(frozen=True)
class Location:
    pattern: re.Pattern
    largest_file: Callable[[], int]  # read when asked, so settings can change (tests, reloads)

    @property
    def limit(self) -> int:
        # The multipart body carries the file plus boundaries and the other fields.
        return self.largest_file() + FORM_OVERHEAD_BYTES


_CODE, _NAME = r"[a-z0-9][a-z0-9-]*", r"[^/]+"

# The locations that take files; every other location gets REQUEST_BODY_MAX_BYTES.
UPLOAD_LOCATIONS = [
    Location(re.compile(rf"^/api/productions/{_CODE}/shots/{_NAME}/versions/$"), lambda: settings.UPLOAD_MAX_BYTES),
    Location(re.compile(rf"^/p/{_CODE}/upload/$"), lambda: settings.UPLOAD_MAX_BYTES),
    Location(re.compile(rf"^/api/productions/{_CODE}/timelines/$"), lambda: MAX_TIMELINE_BYTES),
    Location(re.compile(rf"^/p/{_CODE}/timeline/$"), lambda: MAX_TIMELINE_BYTES),
    Location(re.compile(rf"^/api/productions/{_CODE}/consents/$"), lambda: settings.CONSENT_UPLOAD_MAX_BYTES),
    Location(re.compile(rf"^/p/{_CODE}/consents/$"), lambda: settings.CONSENT_UPLOAD_MAX_BYTES),
]


def location_of(path: str) -> Location | None:
    return next((location for location in UPLOAD_LOCATIONS if location.pattern.match(path)), None)


def limit_for(path: str) -> int:
    location = location_of(path)
    return location.limit if location else settings.REQUEST_BODY_MAX_BYTES


def _headers(scope) -> dict[bytes, bytes]:
    return {name.lower(): value for name, value in scope.get("headers", [])}


def signed_in(headers: dict[bytes, bytes]) -> bool:
    """True for a live session of an active user, or a known API token; no body is needed."""
    from django.contrib.auth import SESSION_KEY, get_user_model
    from django.contrib.sessions.backends.base import SessionBase
    from django.utils.module_loading import import_string

    authorization = headers.get(b"authorization", b"").decode("latin-1")
    if authorization.startswith("Token "):
        from answerprint.accounts.tokens import key_is_usable

        return key_is_usable(authorization[6:].strip())
    cookie = SimpleCookie()
    cookie.load(headers.get(b"cookie", b"").decode("latin-1"))
    morsel = cookie.get(settings.SESSION_COOKIE_NAME)
    if morsel is None:
        return False
    store: SessionBase = import_string(settings.SESSION_ENGINE).SessionStore(morsel.value)
    user_id = store.get(SESSION_KEY)
    return bool(user_id) and get_user_model().objects.filter(pk=user_id, is_active=True).exists()


async def _refuse(send, status: int, message: str) -> None:
    body = json.dumps({"detail": message}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def _too_large(limit: int) -> str:
    return f"The request body is larger than this address accepts ({human_size(limit)})."


class RequestBodyLimit:
    """ASGI middleware: see the module's docstring."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        path = scope["path"]
        location, limit = location_of(path), limit_for(path)
        headers = _headers(scope)
        declared = headers.get(b"content-length", b"").strip()
        if declared and (not declared.isdigit() or int(declared) > limit):
            return await _refuse(send, 413, _too_large(limit))
        if location and declared != b"0" and not await sync_to_async(signed_in)(headers):
            return await _refuse(send, 401, "Sign in before uploading: the file was not read.")
        return await self.app(scope, _counting(receive, send, limit), send)


def _counting(receive, send, limit):
    """`receive` that refuses with 413 once more than `limit` bytes have come (undeclared lengths)."""
    received = 0

    async def counted():
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                await _refuse(send, 413, _too_large(limit))
                return {"type": "http.disconnect"}  # Django stops reading and sends nothing itself
        return message

    return counted


def upload_gate(request):
    """nginx's auth_request for upload locations: 204 for a signed-in caller, else 401.

    It sees only the headers of the upload that waits at nginx, never its body. A page read
    (GET) at those locations has no body and goes through to the view's own log-in redirect.
    """
    from django.http import HttpResponse

    if request.headers.get("X-Original-Method", "POST").upper() in ("GET", "HEAD"):
        return HttpResponse(status=204)
    headers = {name.lower().encode("latin-1"): value.encode("latin-1") for name, value in request.headers.items()}
    return HttpResponse(status=204 if signed_in(headers) else 401)

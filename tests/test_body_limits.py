"""Request bodies are capped per location before Django reads them, and uploads wait for a sign-in.

The application is driven as daphne drives it (ASGI messages), with a body that is counted as
it is handed over: a refused body must be refused before it is read, not after it is spooled.
"""
import asyncio
import re
from pathlib import Path

import pytest
from django.conf import settings

from answerprint.asgi import application
from tests.factories import PASSWORD, ProductionFactory, ShotFactory, UserFactory

ROOT = Path(__file__).resolve().parent.parent
MiB = 1024 * 1024


class Body:
    """An ASGI request body of `size` bytes in 1 MiB chunks; counts how much was taken."""

    def __init__(self, size):
        self.size, self.taken = size, 0

    async def receive(self):
        if self.taken >= self.size and self.size:
            await asyncio.Event().wait()  # a client that keeps the connection open, as a real one does
        chunk = min(MiB, self.size - self.taken)
        self.taken += chunk
        return {"type": "http.request", "body": b"x" * chunk, "more_body": self.taken < self.size}


def _call(path, body, *, method="POST", declare=True, headers=()):
    scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode(), "query_string": b"",
             "root_path": "", "scheme": "http", "server": ("127.0.0.1", 8000), "client": ("203.0.113.5", 5000),
             "headers": [(b"host", b"127.0.0.1"), *headers]
             + ([(b"content-length", str(body.size).encode())] if declare else [])}
    sent = []

    async def send(message):
        sent.append(message)

    asyncio.run(asyncio.wait_for(application(scope, body.receive, send), 30))
    start = next(message for message in sent if message["type"] == "http.response.start")
    return start["status"], b"".join(message.get("body", b"") for message in sent if message["type"] ==
                                     "http.response.body")


@pytest.mark.django_db(transaction=True)
def test_an_anonymous_large_post_to_the_log_in_page_is_refused_unread():
    # given an anonymous 2 GiB body declared to the log-in page
    body = Body(2 * 1024 * MiB)

    # when it is sent
    status, answer = _call("/login/", body)

    # then it is refused from its declared length, and not one byte was read
    assert status == 413 and b"larger than this address accepts" in answer
    assert body.taken == 0


@pytest.mark.django_db(transaction=True)
def test_an_undeclared_body_is_cut_off_as_soon_as_it_passes_the_limit():
    # given a 64 MiB body sent without a Content-Length (chunked)
    body = Body(64 * MiB)

    # when it is sent to an API address that takes JSON
    status, _ = _call("/api/productions/demo/fix-policy/", body, method="PATCH", declare=False)

    # then it is refused once past REQUEST_BODY_MAX_BYTES, long before the end
    assert status == 413
    assert body.taken <= settings.REQUEST_BODY_MAX_BYTES + MiB


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["/api/productions/demo/shots/SC010/versions/", "/p/demo/upload/",
                                  "/api/productions/demo/timelines/", "/p/demo/consents/"])
def test_an_upload_from_someone_not_signed_in_is_refused_before_its_body_is_read(path):
    # given a 10 MiB upload from nobody, and one with a bad token
    anonymous, bad_token = Body(10 * MiB), Body(10 * MiB)

    # when they are sent
    nobody = _call(path, anonymous)
    forged = _call(path, bad_token, headers=[(b"authorization", b"Token not-a-real-token")])

    # then both are refused and nothing was read
    assert nobody[0] == forged[0] == 401
    assert anonymous.taken == bad_token.taken == 0


@pytest.mark.django_db(transaction=True)
def test_a_signed_in_upload_gets_through_to_the_view(client):
    # given a signed-in editor and a small upload body (not a valid form)
    production = ProductionFactory(code="demo")
    ShotFactory(production=production, name="SC010")
    user = UserFactory()
    client.login(username=user.username, password=PASSWORD)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()
    body = Body(3 * MiB)  # above the default cap, below the upload cap

    # when it is sent
    status, _ = _call("/api/productions/demo/shots/SC010/versions/", body, headers=[(b"cookie", cookie)])

    # then the body was read and the view answered (not a member: 404), not the limit
    assert status not in (401, 413) and body.taken == body.size


@pytest.mark.django_db
def test_the_upload_gate_answers_nginx_from_headers_alone(client):
    # given a signed-in user
    user = UserFactory()

    # when nginx asks before an upload, anonymous then signed in, and for a page read
    anonymous = client.get("/upload-gate/", HTTP_X_ORIGINAL_METHOD="POST").status_code
    page_read = client.get("/upload-gate/", HTTP_X_ORIGINAL_METHOD="GET").status_code
    client.force_login(user)
    signed_in = client.get("/upload-gate/", HTTP_X_ORIGINAL_METHOD="POST").status_code

    # then only the signed-in upload and the page read may go on
    assert (anonymous, page_read, signed_in) == (401, 204, 204)


def _nginx_locations():
    text = (ROOT / "deploy" / "nginx.conf").read_text()
    main = text[text.index("listen 443"):]
    server_cap = re.search(r"^    client_max_body_size (\S+);", main, re.M).group(1)
    locations = {}
    for match in re.finditer(r"^    location ([^{]+)\{(.*?)^    \}", main, re.M | re.S):
        locations[match.group(1).strip()] = match.group(2)
    return server_cap, locations


def _megabytes(value):
    units = {"k": 1 / 1024, "m": 1, "g": 1024}
    return float(value[:-1]) * units[value[-1].lower()] if value[-1].isalpha() else float(value) / MiB


def test_nginx_caps_every_location_and_lets_large_bodies_only_into_gated_upload_locations():
    # given the nginx site
    server_cap, locations = _nginx_locations()

    # then the server-wide cap is the app's default, no location is unlimited, and any location
    # over it is an upload location that asks the gate first
    assert _megabytes(server_cap) == settings.REQUEST_BODY_MAX_BYTES / MiB
    for name, block in locations.items():
        cap = re.search(r"client_max_body_size (\S+);", block)
        size = _megabytes(cap.group(1)) if cap else _megabytes(server_cap)
        assert size > 0, f"{name} is unlimited"
        if size > settings.REQUEST_BODY_MAX_BYTES / MiB:
            assert "auth_request /upload-gate/;" in block, name
    uploads = next(block for name, block in locations.items() if "versions" in name)
    assert _megabytes(re.search(r"client_max_body_size (\S+);", uploads).group(1)) * MiB >= \
        settings.UPLOAD_MAX_BYTES
    gate = locations["= /upload-gate/"]
    assert "internal;" in gate and "proxy_pass_request_body off;" in gate


def test_nginx_sends_upload_paths_the_app_knows_to_the_gated_locations():
    # given the app's upload locations and nginx's regex locations
    from answerprint.bodylimit import UPLOAD_LOCATIONS

    _, locations = _nginx_locations()
    gated = [re.compile(name.split(" ", 1)[1]) for name, block in locations.items()
             if name.startswith("~") and "auth_request" in block]

    # then every path the app takes an upload on is matched by a gated nginx location
    for path in ["/api/productions/demo/shots/SC010_SH010/versions/", "/p/demo/upload/",
                 "/api/productions/demo/timelines/", "/p/demo/timeline/", "/api/productions/demo/consents/",
                 "/p/demo/consents/"]:
        assert any(location.pattern.match(path) for location in UPLOAD_LOCATIONS), path
        assert any(pattern.match(path) for pattern in gated), path


def test_nginx_passes_the_client_address_that_the_lock_out_counts_by():
    # given every location nginx proxies to the application
    _, locations = _nginx_locations()
    proxied = {name: block for name, block in locations.items() if "proxy_pass" in block}

    # then each sets X-Forwarded-For to the client's own address (never one the client sent)
    assert proxied and all("proxy_set_header X-Forwarded-For $remote_addr;" in block for block in proxied.values())
    systemd = (ROOT / "deploy" / "systemd" / "answerprint-web@.service").read_text()
    assert "--proxy-headers" in systemd

"""A review room opens only from the origin it is served on: scheme, host and port."""
import pytest

from answerprint.origin import origin_allowed


def _scope(origin, host="review.example.com", scheme="wss", extra=()):
    headers = [(b"host", host.encode())] + ([(b"origin", origin.encode())] if origin is not None else [])
    return {"type": "websocket", "scheme": scheme, "headers": headers + list(extra)}


@pytest.fixture(autouse=True)
def _hosts(settings):
    settings.ALLOWED_HOSTS = ["review.example.com", "127.0.0.1"]
    settings.CSRF_TRUSTED_ORIGINS = ["https://tools.example.com:8443"]


@pytest.mark.parametrize("origin, host, scheme, allowed", [
    ("https://review.example.com", "review.example.com", "wss", True),
    ("https://review.example.com:443", "review.example.com", "wss", True),
    ("http://127.0.0.1:8000", "127.0.0.1:8000", "ws", True),
    ("https://tools.example.com:8443", "review.example.com", "wss", True),
    # the same host on another port: another service on the machine
    ("http://127.0.0.1:9999", "127.0.0.1:8000", "ws", False),
    ("https://review.example.com:8443", "review.example.com", "wss", False),
    # the same host over the other scheme
    ("http://review.example.com", "review.example.com", "wss", False),
    ("https://evil.example", "review.example.com", "wss", False),
    ("https://tools.example.com", "review.example.com", "wss", False),
    # a Host the site does not serve, even when the Origin matches it
    ("https://evil.example", "evil.example", "wss", False),
    (None, "review.example.com", "wss", False),
    ("null", "review.example.com", "wss", False),
    ("https://review.example.com:notaport", "review.example.com", "wss", False),
])
def test_only_the_served_origin_or_a_trusted_one_may_open_a_room(origin, host, scheme, allowed):
    assert origin_allowed(_scope(origin, host, scheme)) is allowed


def test_behind_the_tls_proxy_the_forwarded_scheme_counts(settings):
    # given daphne behind nginx, which ends TLS and says so
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    forwarded = [(b"x-forwarded-proto", b"https")]

    # then an https page may open its room over the proxied ws connection, an http one may not
    assert origin_allowed(_scope("https://review.example.com", scheme="ws", extra=forwarded))
    assert not origin_allowed(_scope("http://review.example.com", scheme="ws", extra=forwarded))

"""The WebSocket Origin check: scheme, host and port, not the host name alone.

Channels' AllowedHostsOriginValidator compares only the Origin's host name with ALLOWED_HOSTS,
so a page served from another port of the same host (another service, a developer's tool) could
open review rooms with the user's cookie. Here an Origin is let in when it is exactly the origin
the browser reached us on (the Host header, whose host must be allowed, and the scheme) or one
of CSRF_TRUSTED_ORIGINS. A missing Origin is refused: browsers always send one.
"""
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(scheme: str, host: str, port: int | None) -> tuple[str, str, int] | None:
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    return scheme, host.lower().strip("[]"), port or _DEFAULT_PORTS[scheme]


def parse_origin(value: str) -> tuple[str, str, int] | None:
    try:
        parts = urlsplit(value.strip())
        return _origin(parts.scheme.lower(), parts.hostname or "", parts.port)
    except ValueError:  # a port that is not a number
        return None


def _served_origin(scope, headers: dict[bytes, bytes]) -> tuple[str, str, int] | None:
    """The origin this connection was made to: the scheme, and the Host header if it is allowed."""
    host_header = headers.get(b"host", b"").decode("latin-1")
    domain, port = split_domain_port(host_header)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return None
    secure = scope.get("scheme") in ("wss", "https")
    proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy and not secure:  # TLS ended at the proxy, which says so (daphne --proxy-headers)
        header = proxy[0].removeprefix("HTTP_").lower().replace("_", "-").encode()
        secure = headers.get(header, b"").decode("latin-1") == proxy[1]
    return _origin("https" if secure else "http", domain, int(port) if port.isdigit() else None)


def origin_allowed(scope) -> bool:
    headers = {name.lower(): value for name, value in scope.get("headers", [])}
    origin = parse_origin(headers.get(b"origin", b"").decode("latin-1"))
    if origin is None:
        return False
    trusted = {parse_origin(value) for value in settings.CSRF_TRUSTED_ORIGINS}
    return origin in trusted or origin == _served_origin(scope, headers)


class SameOriginValidator:
    """ASGI middleware for WebSockets: refuse (close 403) unless origin_allowed."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not origin_allowed(scope):
            return await WebsocketDenier()(scope, receive, send)
        return await self.app(scope, receive, send)

"""API-token sign-in for WebSockets, for tools that have no browser session.

The token may come as the header `Authorization: Token <key>` (tools), as a subprotocol
`token.<key>` offered next to "answerprint.v1" (browsers cannot set headers on a WebSocket), or
as the query parameter `token` (last resort: query strings end up in proxy logs). A presented
token decides who the user is, also when a session cookie came along: an explicit credential
that is wrong must not quietly fall back to another one.
"""
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.contrib.auth.models import AnonymousUser

TOKEN_SUBPROTOCOL_PREFIX = "token."


def token_from_scope(scope):
    for name, value in scope.get("headers") or []:
        if name == b"authorization":
            scheme, _, key = value.decode("latin1").partition(" ")
            if scheme.lower() == "token" and key.strip():
                return key.strip()
    for protocol in scope.get("subprotocols") or []:
        if protocol.startswith(TOKEN_SUBPROTOCOL_PREFIX) and len(protocol) > len(TOKEN_SUBPROTOCOL_PREFIX):
            return protocol[len(TOKEN_SUBPROTOCOL_PREFIX):]
    keys = parse_qs(scope.get("query_string", b"").decode("latin1")).get("token")
    return keys[0] if keys else None


@database_sync_to_async
def user_for_token(key):
    from answerprint.accounts.tokens import user_for_key

    return user_for_key(key, where="websocket") or AnonymousUser()


class TokenAuthMiddleware(BaseMiddleware):
    async def __call__(self, scope, receive, send):
        if scope.get("type") == "websocket":
            key = token_from_scope(scope)
            if key is not None:
                scope = {**scope, "user": await user_for_token(key), "auth": "token"}
        return await super().__call__(scope, receive, send)

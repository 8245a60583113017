import re
import uuid

from .context import RequestContext, current_request

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestContextMiddleware:
    """Tags the request with an id (kept from X-Request-ID when a proxy set a sane one)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        supplied = request.headers.get("X-Request-ID", "")
        request_id = supplied if _REQUEST_ID.match(supplied) else uuid.uuid4().hex
        token = current_request.set(
            RequestContext(
                request_id=request_id,
                ip=request.META.get("REMOTE_ADDR", "")[:64],
                user_agent=request.headers.get("User-Agent", "")[:400],
            )
        )
        try:
            response = self.get_response(request)
        finally:
            current_request.reset(token)
        response["X-Request-ID"] = request_id
        return response

"""Who is asking, carried from the request into every audit event it causes."""
import contextvars
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    request_id: str = ""
    ip: str = ""
    user_agent: str = ""


current_request = contextvars.ContextVar("answerprint_request", default=RequestContext())

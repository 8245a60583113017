"""Uploads stream to a temporary file, hashed on the way in and cut off at the size limit.

`HashingUploadHandler` is the project's only upload handler (settings.FILE_UPLOAD_HANDLERS). An
upload over `settings.UPLOAD_MAX_BYTES` is stopped — by its declared Content-Length before a
byte is read, else as soon as the streamed bytes pass the limit — and the refusal is remembered
on the request. A view calls `upload_refusal(request, ...)` before it reads the file: that
parses the body, records the refusal in the audit log and gives back the message for a 413.

Under ASGI (daphne) Django has already spooled the body to a temporary file before any handler
runs, so the proxy in front (nginx `client_max_body_size`) must refuse the largest bodies too;
this handler still keeps them out of media storage and out of the ingest queue.
"""
import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.core.files.uploadhandler import StopUpload, TemporaryFileUploadHandler
from django.http import QueryDict
from django.utils.datastructures import MultiValueDict

# A multipart body carries the file plus boundaries, part headers and the other form fields,
# so the up-front check on the whole body's Content-Length allows this much over the limit.
FORM_OVERHEAD_BYTES = 1024 * 1024

_REFUSAL_ATTRIBUTE = "_answerprint_upload_refusal"


def human_size(size):
    """1536 -> "1.5 KiB"; plain ASCII, for messages and the audit log."""
    value = float(size)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class UploadRefusal:
    """Why an upload was refused: what the client declared or sent, against the limit."""

    limit: int
    file_name: str = ""
    declared_bytes: int | None = None  # Content-Length of the body or of the file's part
    received_bytes: int | None = None  # bytes streamed before the upload was stopped

    @property
    def message(self):
        if self.received_bytes is not None:
            size = f"more than {human_size(self.limit)} arrived before the upload was stopped"
        else:
            size = f"this upload is {human_size(self.declared_bytes or 0)}"
        name = f"{self.file_name} is" if self.file_name else "The file is"
        return f"{name} too large: the limit is {human_size(self.limit)} ({size})."

    def as_audit(self):
        return {"file": self.file_name, "limit_bytes": self.limit, "declared_bytes": self.declared_bytes,
                "received_bytes": self.received_bytes}


def _django_request(request):
    return getattr(request, "_request", request)  # a DRF Request wraps Django's


def _remember(request, refusal):
    if request is not None:
        setattr(_django_request(request), _REFUSAL_ATTRIBUTE, refusal)


def refusal_of(request):
    """The UploadRefusal the handler left on this request, if any (does not parse the body)."""
    return getattr(_django_request(request), _REFUSAL_ATTRIBUTE, None)


class HashingUploadHandler(TemporaryFileUploadHandler):
    """Streams each file to a temporary file, computing its sha256 on the way.

    The finished file carries `.sha256` (hex) so ingest never reads the bytes a second time.
    """

    def __init__(self, request=None):
        super().__init__(request)
        self.limit = settings.UPLOAD_MAX_BYTES
        self._hasher = None
        self._received = 0

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        if content_length and content_length > self.limit + FORM_OVERHEAD_BYTES:
            _remember(self.request, UploadRefusal(limit=self.limit, declared_bytes=content_length))
            # Taking over the parse with an empty result: not one byte of the body is read.
            return QueryDict(encoding=encoding), MultiValueDict()
        return None

    def new_file(self, field_name, file_name, content_type, content_length, charset=None,
                 content_type_extra=None):
        if content_length and content_length > self.limit:
            _remember(self.request, UploadRefusal(limit=self.limit, file_name=file_name,
                                                  declared_bytes=content_length))
            raise StopUpload(connection_reset=True)
        super().new_file(field_name, file_name, content_type, content_length, charset, content_type_extra)
        self._hasher = hashlib.sha256()
        self._received = 0

    def receive_data_chunk(self, raw_data, start):
        self._received += len(raw_data)
        if self._received > self.limit:
            _remember(self.request, UploadRefusal(limit=self.limit, file_name=self.file_name,
                                                  received_bytes=self._received))
            # The temporary file is closed (and so deleted) by the parser.
            raise StopUpload(connection_reset=True)
        self._hasher.update(raw_data)
        return super().receive_data_chunk(raw_data, start)

    def file_complete(self, file_size):
        uploaded = super().file_complete(file_size)
        uploaded.sha256 = self._hasher.hexdigest()
        return uploaded


def upload_refusal(request, *, actor, production):
    """Parse the request's body; if the upload was refused, audit it and return the message.

    Returns None when nothing was refused. Call it before reading `request.FILES` / `.data`.
    """
    if refusal_of(request) is None:
        # Accessing the parsed body runs the upload handlers (DRF's `.data`, Django's `.FILES`).
        if hasattr(request, "_request"):
            request.data  # noqa: B018
        else:
            request.FILES  # noqa: B018
    refusal = refusal_of(request)
    if refusal is None:
        return None
    from .services import record_upload_refused

    record_upload_refused(actor=actor, production=production, refusal=refusal)
    return refusal.message

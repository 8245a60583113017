"""Serving media bytes after a permission check, with HTTP Range (Chrome cannot seek a video
served without it). With MEDIA_ACCEL_REDIRECT_PREFIX set, the proxy server sends the bytes."""
import mimetypes
import re
from urllib.parse import quote

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponse, StreamingHttpResponse

from .storage import lies_in_production

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_CHUNK = 256 * 1024


def _parse_range(header, size):
    """(start, end) inclusive for a single satisfiable range; None to send the whole file;
    'unsatisfiable' for a range outside the file. Multiple ranges are answered whole."""
    match = _RANGE.match(header.strip()) if header else None
    if not match:
        return None
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if first == "":  # the last N bytes
        length = int(last)
        if length == 0:
            return "unsatisfiable"
        return max(size - length, 0), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        return "unsatisfiable"
    return start, end


def _read_span(handle, start, end):
    try:
        handle.seek(start)
        remaining = end - start + 1
        while remaining > 0:
            chunk = handle.read(min(_CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk
    finally:
        handle.close()


def media_response(request, name, *, production, download_name=None, storage=default_storage):
    """Answer with the stored file `name`, which must be `production`'s own.

    The permission check that came before was about the production; this makes sure the file
    is that production's too, so an asset pointing elsewhere (or a file since replaced by a link
    out) serves nothing.
    """
    if not lies_in_production(production, name, storage):
        raise Http404("No such media.")
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    disposition = None
    if download_name:
        disposition = f"attachment; filename*=UTF-8''{quote(download_name)}"

    if settings.MEDIA_ACCEL_REDIRECT_PREFIX:
        response = HttpResponse(content_type=content_type)
        response["X-Accel-Redirect"] = settings.MEDIA_ACCEL_REDIRECT_PREFIX.rstrip("/") + "/" + quote(name)
        if disposition:
            response["Content-Disposition"] = disposition
        return response

    size = storage.size(name)
    span = _parse_range(request.headers.get("Range", ""), size)
    if span == "unsatisfiable":
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return response
    if span is None:
        response = FileResponse(storage.open(name, "rb"), content_type=content_type)
        response["Content-Length"] = str(size)
    else:
        start, end = span
        response = StreamingHttpResponse(_read_span(storage.open(name, "rb"), start, end),
                                         status=206, content_type=content_type)
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
        response["Content-Length"] = str(end - start + 1)
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = "private, max-age=3600"
    if disposition:
        response["Content-Disposition"] = disposition
    return response

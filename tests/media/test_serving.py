import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import RequestFactory

from answerprint.accounts.models import Production
from answerprint.media.serving import media_response

PRODUCTION = Production(code="demo")

BODY = bytes(range(256)) * 40  # 10240 bytes


@pytest.fixture
def stored(settings):
    return default_storage.save("productions/demo/serving/clip.mp4", ContentFile(BODY))


def _get(name, range_header=None):
    headers = {"HTTP_RANGE": range_header} if range_header else {}
    response = media_response(RequestFactory().get("/", **headers), name, production=PRODUCTION)
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response, body


def test_a_whole_file_is_sent_with_its_length_and_range_support(stored):
    response, body = _get(stored)
    assert response.status_code == 200 and body == BODY
    assert response["Accept-Ranges"] == "bytes" and response["Content-Length"] == str(len(BODY))
    assert response["Content-Type"] == "video/mp4"


@pytest.mark.parametrize("header, start, end", [
    ("bytes=0-99", 0, 99),
    ("bytes=100-", 100, len(BODY) - 1),
    ("bytes=-500", len(BODY) - 500, len(BODY) - 1),
    ("bytes=10000-999999", 10000, len(BODY) - 1),
])
def test_a_range_request_gets_exactly_those_bytes(stored, header, start, end):
    response, body = _get(stored, header)
    assert response.status_code == 206
    assert body == BODY[start:end + 1]
    assert response["Content-Range"] == f"bytes {start}-{end}/{len(BODY)}"
    assert response["Content-Length"] == str(end - start + 1)


def test_a_range_past_the_end_is_unsatisfiable(stored):
    response, _ = _get(stored, "bytes=20000-20010")
    assert response.status_code == 416 and response["Content-Range"] == f"bytes */{len(BODY)}"


def test_a_malformed_range_sends_the_whole_file(stored):
    response, body = _get(stored, "bytes=abc")
    assert response.status_code == 200 and body == BODY


def test_behind_a_proxy_the_bytes_are_handed_to_nginx(stored, settings):
    settings.MEDIA_ACCEL_REDIRECT_PREFIX = "/protected/"
    response, body = _get(stored, "bytes=0-9")
    assert response["X-Accel-Redirect"] == "/protected/" + stored and body == b""

"""Bad input gets a clear error and loses nothing (DESIGN rule 5): each kind of bad media ends
as a failed asset with a reason a person can act on, the original bytes kept, and a retry."""
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.test import RequestFactory

from answerprint.accounts.models import Role
from answerprint.audit.models import AuditEvent
from answerprint.media import tasks
from answerprint.media.models import AssetStatus, MediaAsset, Version, VersionState
from answerprint.media.services import ingest_upload, retry_ingest
from answerprint.media.uploads import FORM_OVERHEAD_BYTES, upload_refusal
from tests.factories import ProductionFactory, ShotFactory, member

from .conftest import actions, upload


def _truncated_at_the_end(sources):
    # Index ('moov') written last, as a camera or an interrupted copy leaves it: cut in half.
    data = sources.get("h264").read_bytes()
    assert data.index(b"moov") > data.index(b"mdat")
    return data[: len(data) // 2]


def _truncated_with_the_index_first(sources):
    clip = sources.clip("faststart", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-frames:v", "48",
                        "-c:v", "libx264", "-pix_fmt", "yuv420p", "-movflags", "+faststart")
    data = clip.read_bytes()
    return data[: len(data) * 2 // 3]


def _unknown_codec(sources):
    # An H.264 track relabelled as Blackmagic RAW ('brxq'), which ffmpeg cannot decode.
    data = bytearray(sources.get("h264").read_bytes())
    entry = data.index(b"avc1", data.index(b"stsd"))
    data[entry:entry + 4] = b"brxq"
    return bytes(data)


def _audio_only(sources):
    return sources.clip("audio", "-f", "lavfi", "-i", "sine=duration=0.5", "-c:a", "aac", extension="mov").read_bytes()


def _damaged_frame(sources):
    # ProRes is intra-only: smashing bytes in the middle of the picture data ruins one frame.
    data = bytearray(sources.get("prores").read_bytes())
    middle = data.index(b"mdat") + (len(data) - data.index(b"mdat")) // 2
    data[middle:middle + 2000] = b"\xab" * 2000
    return bytes(data)


BAD_MEDIA = {
    "empty": ("empty.mov", lambda sources: b"", "The file is empty (0 bytes)."),
    "truncated": ("A001C003.mp4", _truncated_at_the_end, "The file ends early: it looks truncated"),
    "truncated_index_first": ("A001C004.mp4", _truncated_with_the_index_first,
                              "The file ends early: it looks truncated (the data stops before the end"),
    "text_named_mov": ("notes.mov", lambda sources: b"Call sheet for day 12\nUnit call 06:30\n" * 20,
                       "The file holds text, not video: it is not a media file despite its .mov name."),
    "unsupported_codec": ("A002C001.braw.mov", _unknown_codec,
                          "Unsupported video codec 'brxq' (Blackmagic RAW): ffmpeg here cannot decode it."),
    "audio_only": ("production_sound.mov", _audio_only, "No video stream: the file holds only audio."),
    "damaged_frame": ("A003C002.mov", _damaged_frame, "The picture is damaged: 1 of 12 frames could not be decoded."),
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", BAD_MEDIA, ids=str)
def test_bad_media_fails_the_asset_with_a_reason_and_keeps_the_original(case, sources, eager,
                                                                         django_capture_on_commit_callbacks):
    # given an editor on a shot, and a bad file
    name, make, reason = BAD_MEDIA[case]
    data = make(sources)
    production = ProductionFactory()
    shot = ShotFactory(production=production, last_frame=None)
    editor = member(production, Role.EDITOR)

    # when it is uploaded and ingested
    with django_capture_on_commit_callbacks(execute=True):
        version = ingest_upload(actor=editor, shot=shot, uploaded_file=upload(data, name))

    # then the asset failed with the reason, the original is kept byte for byte, and it is logged
    asset = MediaAsset.objects.get(version=version)
    assert asset.status == AssetStatus.FAILED
    assert asset.status_reason.startswith(reason), asset.status_reason
    assert asset.version.state == VersionState.FAILED
    assert default_storage.open(asset.original.name).read() == data
    assert actions(production) == ["media.uploaded", "media.ingest_failed"]
    failed = AuditEvent.objects.get(action="media.ingest_failed")
    assert failed.reason == asset.status_reason and failed.actor is None
    shot.refresh_from_db()
    assert shot.last_frame is None

    # and running the task again raises nothing and changes nothing
    assert tasks.process_asset.apply(args=[asset.pk]).successful()
    assert actions(production) == ["media.uploaded", "media.ingest_failed"]

    # and a retry is accepted, logged, and runs the ingest again (failing the same way)
    with django_capture_on_commit_callbacks(execute=True):
        retry_ingest(actor=editor, asset=asset)
    asset.refresh_from_db()
    assert asset.status == AssetStatus.FAILED and asset.status_reason.startswith(reason)
    assert actions(production)[-2:] == ["media.ingest_retried", "media.ingest_failed"]
    retried = AuditEvent.objects.get(action="media.ingest_retried")
    assert retried.actor == editor and retried.before["reason"] == asset.status_reason


def _multipart(data, name, **extra):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return RequestFactory().post("/upload/", {"file": SimpleUploadedFile(name, data), "note": "n"}, **extra)


@pytest.mark.django_db
def test_an_upload_over_the_limit_is_refused_stored_nowhere_and_logged(settings):
    # given a limit of 1000 bytes and an upload of 5000
    settings.UPLOAD_MAX_BYTES = 1000
    production = ProductionFactory()
    editor = member(production, Role.EDITOR)
    request = _multipart(b"x" * 5000, "huge.mov")

    # when the view asks whether the upload was refused
    message = upload_refusal(request, actor=editor, production=production)

    # then it was, with a clear message; nothing reached the request's files or storage
    assert message == "huge.mov is too large: the limit is 1000 bytes (more than 1000 bytes arrived before the " \
                      "upload was stopped)."
    assert "file" not in request.FILES
    media_root = Path(settings.MEDIA_ROOT)
    assert not media_root.exists() or not [p for p in media_root.rglob("*") if p.is_file()]
    assert not Version.objects.exists()
    event = AuditEvent.objects.get(action="media.upload_refused")
    assert event.actor == editor and event.production == production and event.reason == message
    assert (event.after["file"], event.after["limit_bytes"], event.after["declared_bytes"]) == ("huge.mov", 1000, None)
    assert event.after["received_bytes"] > 1000


@pytest.mark.django_db
def test_a_declared_length_over_the_limit_is_refused_before_reading_the_body(settings):
    # given a body that declares far more than the limit, and cannot be read
    settings.UPLOAD_MAX_BYTES = 1000
    production = ProductionFactory()
    editor = member(production, Role.EDITOR)
    request = _multipart(b"x" * 10, "clip.mov")
    request.META["CONTENT_LENGTH"] = str(50 * 1024**3)

    class Unreadable:
        def read(self, *args):
            raise AssertionError("the body was read")

    request._stream = Unreadable()

    # when the view asks
    message = upload_refusal(request, actor=editor, production=production)

    # then it is refused from the declared length alone
    assert message == "The file is too large: the limit is 1000 bytes (this upload is 50.0 GiB)."
    assert AuditEvent.objects.get(action="media.upload_refused").after["declared_bytes"] == 50 * 1024**3


@pytest.mark.django_db
def test_an_upload_within_the_limit_is_not_refused(settings):
    # given a limit just above the file, the form's overhead allowed on top
    settings.UPLOAD_MAX_BYTES = 5000
    production = ProductionFactory()
    request = _multipart(b"x" * 5000, "ok.mov")
    assert int(request.META["CONTENT_LENGTH"]) < 5000 + FORM_OVERHEAD_BYTES

    # when the view asks, then nothing is refused or logged, and the file carries its hash
    assert upload_refusal(request, actor=member(production, Role.EDITOR), production=production) is None
    assert request.FILES["file"].size == 5000 and len(request.FILES["file"].sha256) == 64
    assert not AuditEvent.objects.filter(action="media.upload_refused").exists()


@pytest.mark.django_db
def test_an_oversize_file_that_reached_the_service_anyway_is_refused_and_logged(settings):
    # given a limit of 10 bytes and a file that did not come through the upload handler
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.UPLOAD_MAX_BYTES = 10
    production = ProductionFactory()
    shot = ShotFactory(production=production)
    editor = member(production, Role.EDITOR)

    # when it is ingested, then it is refused, logged, and nothing is made
    with pytest.raises(ValidationError, match="big.mov is too large: the limit is 10 bytes"):
        ingest_upload(actor=editor, shot=shot, uploaded_file=SimpleUploadedFile("big.mov", b"x" * 11))
    assert actions(production) == ["media.upload_refused"] and not Version.objects.exists()


@pytest.mark.django_db
def test_an_api_request_is_refused_the_same_way(settings):
    # given the same oversize upload arriving through a DRF view's request
    from rest_framework.parsers import MultiPartParser
    from rest_framework.request import Request

    settings.UPLOAD_MAX_BYTES = 1000
    production = ProductionFactory()
    request = Request(_multipart(b"x" * 5000, "huge.mov"), parsers=[MultiPartParser()])

    # when the view asks, then it is refused and logged, and DRF's parsed data holds no file
    message = upload_refusal(request, actor=member(production, Role.EDITOR), production=production)
    assert message.startswith("huge.mov is too large") and "file" not in request.data
    assert AuditEvent.objects.filter(action="media.upload_refused").count() == 1

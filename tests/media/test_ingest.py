"""Ingest end to end: upload or register, the media task, and what it leaves behind."""
import hashlib
from fractions import Fraction
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage

from answerprint.accounts.models import Role
from answerprint.audit.models import AuditEvent
from answerprint.media import ffmpeg, services, tasks
from answerprint.media.ffmpeg import PacketScan, frame_rate, parse_header
from answerprint.media.models import AssetStatus, MediaAsset, VersionState
from answerprint.media.services import ingest_upload, process_asset, register_media, retry_ingest
from answerprint.outbox.models import OutboxTask
from answerprint.outbox.services import resend_stale
from tests.factories import ProductionFactory, ShotFactory, member

from .conftest import (KINDS, SEQUENCE_START, actions, decode_frames, put_in_storage, put_sequence_in_storage,
                       run_probe_of, upload)

# What the probe must find in each kind of source (rate, timecode and size come from KINDS).
EXPECTED = {
    "h264": {"codec": "h264", "pixel_format": "yuv420p", "bit_depth": 8},
    "hevc": {"codec": "hevc", "pixel_format": "yuv420p", "bit_depth": 8},
    "prores": {"codec": "prores", "pixel_format": "yuv422p10le", "bit_depth": 10},
    "dnxhr": {"codec": "dnxhd", "pixel_format": "yuv422p", "bit_depth": 8, "color_space": "bt709"},
    "png": {"codec": "png", "pixel_format": "rgb24", "bit_depth": 8, "color_range": "pc", "color_space": "gbr"},
    "tiff": {"codec": "tiff", "pixel_format": "rgb24", "bit_depth": 8},
    "dpx": {"codec": "dpx", "pixel_format": "gbrp10le", "bit_depth": 10},
    "exr": {"codec": "exr", "pixel_format": "gbrpf32le", "bit_depth": 32, "color_transfer": "linear"},
}


def _world(kind=None, **shot_fields):
    rate = kind.fraction if kind else Fraction(24)
    production = ProductionFactory(fps_num=rate.numerator, fps_den=rate.denominator)
    shot = ShotFactory(production=production, last_frame=None, **shot_fields)
    return production, shot, member(production, Role.EDITOR)


def _bring_in(kind, source, editor, shot):
    """Upload a file, or put a sequence on storage and register it, as editorial would."""
    if kind.sequence:
        pattern = put_sequence_in_storage(source, f"incoming/{kind.name}", production=shot.production,
                                          frames=kind.frames)
        return register_media(actor=editor, shot=shot, path=pattern)
    return ingest_upload(actor=editor, shot=shot, uploaded_file=upload(source, source.name))


@pytest.mark.django_db
@pytest.mark.parametrize("kind", KINDS.values(), ids=lambda kind: kind.name)
def test_each_kind_of_source_is_probed_exactly_and_gets_a_browser_proxy(kind, sources, eager,
                                                                        django_capture_on_commit_callbacks):
    # given a shot with no frame range yet, in a production at the source's rate
    production, shot, editor = _world(kind)
    source = sources.get(kind.name)

    # when the source comes in and the media task runs on commit
    with django_capture_on_commit_callbacks(execute=True):
        version = _bring_in(kind, source, editor, shot)

    # then the probe found exactly what was made: frames counted, rate as a ratio, timecode
    asset = MediaAsset.objects.get(version=version)
    assert asset.status == AssetStatus.READY, asset.status_reason
    width, height = (int(n) for n in kind.size.split("x"))
    assert (asset.frame_count, asset.fps) == (kind.frames, kind.fraction)
    assert (asset.fps_num, asset.fps_den) == (kind.fraction.numerator, kind.fraction.denominator)
    assert asset.start_timecode == (kind.timecode or "")
    assert (asset.width, asset.height) == (width, height)
    for field, value in EXPECTED[kind.name].items():
        assert getattr(asset, field) == value, field
    assert asset.progress == 100 and asset.attempts == 1 and asset.is_sequence == kind.sequence

    # and the proxy is H.264 4:2:0, every frame there, a keyframe every 2 frames, CFR at the same ratio
    stderr, packets = run_probe_of(default_storage.path(asset.proxy.name))
    video = parse_header(stderr).video
    assert (video.codec, video.pixel_format) == ("h264", "yuv420p")
    assert (video.width, video.height) == (asset.proxy_width, asset.proxy_height) == (width, height)
    assert len(packets) == kind.frames
    keyframes = [i for i, line in enumerate(packets) if "F=" not in line]  # framecrc marks non-key packets
    assert all(later - earlier <= 2 for earlier, later in zip(keyframes, keyframes[1:])) and keyframes[0] == 0
    scan = PacketScan()
    for line in stderr.splitlines() + packets:
        scan.feed(line)
    assert len(scan.durations) == 1
    proxy_bytes = default_storage.open(asset.proxy.name).read()
    assert proxy_bytes.index(b"moov") < proxy_bytes.index(b"mdat")  # +faststart: index first

    # and poster and filmstrip are JPEGs, the strip with one tile per frame here (12 < 40)
    assert default_storage.open(asset.poster.name).read(2) == b"\xff\xd8"
    assert default_storage.open(asset.filmstrip.name).read(2) == b"\xff\xd8"
    assert asset.filmstrip_tiles == kind.frames
    assert (asset.filmstrip_tile_width, asset.filmstrip_tile_height) == ((160, 90) if width > 160 else (width, height))

    # and the version is ready, the shot has its frame range, and all of it is in the log
    assert asset.version.state == VersionState.READY
    shot.refresh_from_db()
    assert (shot.first_frame, shot.last_frame) == (1001, 1001 + kind.frames - 1)
    arrival = "media.registered" if kind.sequence else "media.uploaded"
    assert actions(production) == [arrival, "media.ingested", "shot.updated"]
    ingested = AuditEvent.objects.get(action="media.ingested")
    assert ingested.actor is None and ingested.actor_name == "system"
    assert ingested.after["frames"] == kind.frames and ingested.after["fps"] == f"{asset.fps_num}/{asset.fps_den}"


def test_the_proxy_rate_is_exact_at_24000_over_1001(sources, tmp_path):
    # given the 23.976 source, probed
    source = sources.get("h264")
    probe = ffmpeg.probe(str(source))
    outputs = ffmpeg.DeriveOutputs(*(str(tmp_path / n) for n in ("proxy.mp4", "poster.jpg", "strip.jpg")))

    # when the proxy is made
    ffmpeg.derive(ffmpeg.input_args(source), probe, outputs, expected_frames=probe.packet_count)

    # then its packets say 1001/24000 s each, exactly
    stderr, packets = run_probe_of(outputs.proxy)
    scan = PacketScan()
    for line in stderr.splitlines() + packets:
        scan.feed(line)
    assert frame_rate(scan, parse_header(stderr).video) == Fraction(24000, 1001)
    assert probe.rate == Fraction(24000, 1001)


@pytest.mark.parametrize("kind_name", ["h264", "prores", "dnxhr", "png", "exr"])
def test_proxy_frame_n_is_source_frame_n(kind_name, sources, tmp_path):
    # given a source whose frames are each a different grey, and its proxy
    kind = KINDS[kind_name]
    source = str(sources.ramp(kind_name))
    sequence = {"sequence_start": SEQUENCE_START, "sequence_rate": kind.fraction} if kind.sequence else {}
    probe = ffmpeg.probe(source, **sequence)
    outputs = ffmpeg.DeriveOutputs(*(str(tmp_path / n) for n in ("proxy.mp4", "poster.jpg", "strip.jpg")))
    ffmpeg.derive(ffmpeg.input_args(source, **sequence), probe, outputs, expected_frames=probe.packet_count)

    # when the proxy is decoded frame by frame
    proxy = decode_frames(outputs.proxy, 16, 16)
    greys = [sum(frame) / len(frame) for frame in proxy]

    # then frame n is the n-th grey: no frame shifted, dropped or repeated
    assert len(proxy) == kind.frames
    assert all(later - earlier > 8 for earlier, later in zip(greys, greys[1:])), greys
    if probe.color_transfer != "linear":  # the EXR proxy is re-encoded to BT.709, so its greys differ
        original = [sum(f) / len(f) for f in decode_frames(source, 16, 16, input_args=ffmpeg.input_args(
            source, **sequence)[:-2])]
        assert [min(range(len(original)), key=lambda j: abs(grey - original[j])) for grey in greys] == \
            list(range(kind.frames))


@pytest.mark.django_db
def test_an_upload_is_stored_under_the_version_with_the_hash_computed_while_it_streamed(sources):
    # given a shot and a clip's bytes
    production, shot, editor = _world()
    data = sources.get("h264").read_bytes()

    # when it is uploaded twice (without running the task)
    first = ingest_upload(actor=editor, shot=shot, uploaded_file=upload(data, "A001 C003 (take 2).mp4"), note="hero")
    second = ingest_upload(actor=editor, shot=shot, uploaded_file=upload(data, "A001 C003 (take 2).mp4"))

    # then versions are numbered in order, the bytes are stored as received, under a safe name
    assert (first.number, second.number) == (1, 2)
    asset = first.asset
    folder = f"productions/{production.code}/shots/{shot.name}"
    assert asset.original.name == f"{folder}/v001/original/A001_C003_take_2.mp4"
    assert second.asset.original.name == f"{folder}/v002/original/A001_C003_take_2.mp4"
    assert default_storage.open(asset.original.name).read() == data
    assert asset.sha256 == hashlib.sha256(data).hexdigest() and asset.size_bytes == len(data)
    assert asset.original_name == "A001 C003 (take 2).mp4" and asset.status == AssetStatus.QUEUED
    assert first.created_by == editor and first.kind == "plate" and first.note == "hero"
    event = AuditEvent.objects.filter(action="media.uploaded").first()
    assert event.actor == editor and event.target_id == str(asset.pk)
    assert (event.after["sha256"], event.after["file"]) == (asset.sha256, asset.original_name)


@pytest.mark.django_db
def test_the_task_is_queued_only_when_the_upload_commits(django_capture_on_commit_callbacks, sources):
    # given a shot
    _, shot, editor = _world()

    # when a file is uploaded, with the queue watched
    with mock.patch.object(tasks.process_asset, "apply_async") as apply_async:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            version = ingest_upload(actor=editor, shot=shot, uploaded_file=upload(b"bytes", "a.mov"))

        # then the work is on record with the upload, nothing was sent before the commit, and
        # exactly this asset after it, under the recorded task id
        recorded = OutboxTask.objects.get(task_name=tasks.process_asset.name)
        assert recorded.args == [version.asset.pk] and recorded.state == "pending"
        apply_async.assert_not_called()
        for callback in callbacks:
            callback()
        apply_async.assert_called_once_with(args=[version.asset.pk], task_id=recorded.task_id)


def test_the_task_is_routed_to_the_media_queue():
    from answerprint.celery import app

    route = app.amqp.router.route({}, tasks.process_asset.name)
    assert route["queue"].name == "media"


@pytest.mark.django_db
def test_running_ingest_twice_gives_one_result(sources, eager, django_capture_on_commit_callbacks):
    # given an ingested clip
    production, shot, editor = _world()
    with django_capture_on_commit_callbacks(execute=True):
        version = ingest_upload(actor=editor, shot=shot, uploaded_file=upload(sources.get("h264"), "clip.mp4"))
    asset = MediaAsset.objects.get(version=version)
    files = sorted(default_storage.listdir(f"productions/{production.code}/shots/{shot.name}/v001/derived")[1])

    # when the task is delivered again
    with django_capture_on_commit_callbacks(execute=True):
        again = tasks.process_asset.apply(args=[asset.pk])

    # then nothing changed: same files, one ingest event, one attempt
    assert again.successful()
    assert sorted(default_storage.listdir(f"productions/{production.code}/shots/{shot.name}/v001/derived")[1]) == files
    assert files == ["filmstrip.jpg", "poster.jpg", "proxy.mp4"]
    assert actions(production).count("media.ingested") == 1
    asset.refresh_from_db()
    assert asset.attempts == 1 and asset.status == AssetStatus.READY


@pytest.mark.django_db
def test_a_worker_that_died_mid_ingest_is_picked_up_again(sources):
    # given an asset a killed worker left half-way ("transcoding", one attempt)
    production, shot, editor = _world()
    version = ingest_upload(actor=editor, shot=shot, uploaded_file=upload(sources.get("h264"), "clip.mp4"))
    MediaAsset.objects.filter(pk=version.asset.pk).update(status=AssetStatus.TRANSCODING, attempts=1, progress=40)

    # when the message is delivered again
    asset = process_asset(version.asset.pk)

    # then the ingest is done over, and counted as the second attempt
    assert asset.status == AssetStatus.READY and asset.attempts == 2 and asset.frame_count == 12


@pytest.mark.django_db
def test_an_asset_that_keeps_killing_its_worker_ends_failed(sources):
    # given an asset that has been started the maximum number of times
    production, shot, editor = _world()
    version = ingest_upload(actor=editor, shot=shot, uploaded_file=upload(sources.get("h264"), "clip.mp4"))
    MediaAsset.objects.filter(pk=version.asset.pk).update(status=AssetStatus.PROBING,
                                                          attempts=services.MAX_INGEST_ATTEMPTS)

    # when it is delivered once more
    process_asset(version.asset.pk)

    # then it is failed, saying why, instead of looping
    asset = MediaAsset.objects.get(pk=version.asset.pk)
    assert asset.status == AssetStatus.FAILED and "without finishing" in asset.status_reason
    assert actions(production)[-1] == "media.ingest_failed"


@pytest.mark.django_db
def test_an_unexpected_crash_is_retried_a_bounded_number_of_times_then_fails_visibly(
        sources, eager, django_capture_on_commit_callbacks):
    # given ffmpeg crashing for a reason that is not the media's (here: the derive step blows up)
    production, shot, editor = _world()
    crash = RuntimeError("disk on fire")
    with mock.patch.object(ffmpeg, "derive", side_effect=crash) as derive:
        # when a clip is uploaded and the task runs (retried eagerly by Celery)
        with django_capture_on_commit_callbacks(execute=True):
            version = ingest_upload(actor=editor, shot=shot, uploaded_file=upload(sources.get("h264"), "clip.mp4"))

    # then it was tried 1 + MAX_RETRIES times, and the asset says what happened
    assert derive.call_count == tasks.MAX_RETRIES + 1
    asset = MediaAsset.objects.get(version=version)
    assert asset.status == AssetStatus.FAILED and asset.attempts == tasks.MAX_RETRIES + 1
    assert "unexpected error" in asset.status_reason and "disk on fire" in asset.status_reason
    assert asset.version.state == VersionState.FAILED
    assert actions(production) == ["media.uploaded", "media.ingest_failed"]

    # and once the cause is gone, a retry succeeds
    with django_capture_on_commit_callbacks(execute=True):
        retry_ingest(actor=editor, asset=asset)
    asset.refresh_from_db()
    assert asset.status == AssetStatus.READY and asset.attempts == 1
    assert actions(production)[-3:] == ["media.ingest_retried", "media.ingested", "shot.updated"]


@pytest.mark.django_db
def test_an_unreachable_queue_leaves_the_ingest_on_record_and_the_sweep_sends_it_when_the_queue_is_back(
        django_capture_on_commit_callbacks, settings):
    # given a broker that cannot be reached
    production, shot, editor = _world()
    with mock.patch.object(tasks.process_asset, "apply_async", side_effect=ConnectionError("no broker")):
        # when a file is uploaded
        with django_capture_on_commit_callbacks(execute=True):
            version = ingest_upload(actor=editor, shot=shot, uploaded_file=upload(b"data", "a.mov"))

    # then the upload is kept, the asset says it waits for the queue, and the work is on record
    asset = MediaAsset.objects.get(version=version)
    assert asset.status == AssetStatus.QUEUED and "queue could not be reached" in asset.status_reason
    assert default_storage.exists(asset.original.name)
    recorded = OutboxTask.objects.get(task_name=tasks.process_asset.name, args=[asset.pk])
    assert "no broker" in recorded.last_error

    # when the queue is back and the sweep runs past the bound
    settings.OUTBOX_QUEUED_SECONDS = 0
    with mock.patch.object(tasks.process_asset, "apply_async") as apply_async:
        assert resend_stale() == 1

    # then the ingest is sent, under the recorded task id
    apply_async.assert_called_once_with(args=[asset.pk], task_id=recorded.task_id)


@pytest.mark.django_db
def test_progress_and_state_are_published_to_the_production_group(sources, eager,
                                                                   django_capture_on_commit_callbacks):
    # given a clip, with what goes to the channel layer recorded
    production, shot, editor = _world()
    sent = []
    with mock.patch.object(services, "_send", side_effect=lambda group, message: sent.append((group, message))):
        # when it is ingested
        with django_capture_on_commit_callbacks(execute=True):
            version = ingest_upload(actor=editor, shot=shot, uploaded_file=upload(sources.get("h264"), "clip.mp4"))

    # then the production's group heard the asset go from probing to ready
    assert {group for group, _ in sent} == {f"production-{production.pk}"}
    messages = [message for _, message in sent]
    assert all(m["type"] == "asset.progress" and m["asset"] == version.asset.pk for m in messages)
    assert messages[0]["status"] == AssetStatus.PROBING
    assert (messages[-1]["status"], messages[-1]["progress"], messages[-1]["version_state"]) == ("ready", 100, "ready")
    progress = [m["progress"] for m in messages]
    assert progress == sorted(progress)


@pytest.mark.django_db
def test_a_channel_layer_that_fails_does_not_fail_ingest(sources, eager, django_capture_on_commit_callbacks):
    # given a channel layer that raises on every send
    _, shot, editor = _world()
    with mock.patch.object(services, "get_channel_layer", side_effect=OSError("redis is down")):
        # when a clip is ingested
        with django_capture_on_commit_callbacks(execute=True):
            version = ingest_upload(actor=editor, shot=shot, uploaded_file=upload(sources.get("h264"), "clip.mp4"))

    # then the database still tells the truth
    assert MediaAsset.objects.get(version=version).status == AssetStatus.READY


@pytest.mark.django_db
def test_ingest_works_on_storage_without_local_paths(storage_without_paths, sources, eager,
                                                     django_capture_on_commit_callbacks):
    # given storage that, like S3, can only open and save
    production, shot, editor = _world(KINDS["png"])
    with pytest.raises(NotImplementedError):
        storage_without_paths.path("x")

    # when a clip is uploaded and a sequence registered, and both ingested
    with django_capture_on_commit_callbacks(execute=True):
        clip = ingest_upload(actor=editor, shot=shot, uploaded_file=upload(sources.get("hevc"), "clip.mp4"))
        pattern = put_sequence_in_storage(sources.get("png"), "incoming/png", production=production)
        sequence = register_media(actor=editor, shot=shot, path=pattern)

    # then both are ready, their derived files written through the storage API
    for version in (clip, sequence):
        asset = MediaAsset.objects.get(version=version)
        assert asset.status == AssetStatus.READY, asset.status_reason
        assert asset.frame_count == 12
        assert storage_without_paths.open(asset.proxy.name).read(12)[4:8] == b"ftyp"


@pytest.mark.django_db
def test_registering_a_file_on_storage_hashes_it_and_leaves_it_where_it_is(sources):
    # given a clip already on media storage
    production, shot, editor = _world()
    source = sources.get("prores")
    put_in_storage(source, "incoming/delivery/A001C003.mov", production=production)

    # when it is registered
    version = register_media(actor=editor, shot=shot, path=" incoming/./delivery/A001C003.mov ", note="from vendor")

    # then the version points at it, hashed by streaming
    asset = version.asset
    stored = f"productions/{production.code}/incoming/delivery/A001C003.mov"
    assert asset.original.name == stored
    assert asset.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
    assert asset.size_bytes == source.stat().st_size and not asset.is_sequence
    event = AuditEvent.objects.get(action="media.registered")
    assert event.actor == editor and event.after["path"] == stored and event.after["sha256"] == asset.sha256


@pytest.mark.django_db
@pytest.mark.parametrize("written", ["frame.%04d.png", "frame.####.png"])
def test_a_sequence_is_registered_by_pattern_with_a_hash_over_its_frames(written, sources):
    # given a PNG sequence on storage, frames 1001-1012
    production, shot, editor = _world(KINDS["png"])
    put_sequence_in_storage(sources.get("png"), "incoming/sc1", production=production)

    # when it is registered by a printf or a hash pattern
    version = register_media(actor=editor, shot=shot, path=f"incoming/sc1/{written}")

    # then the asset is the printf pattern from the first frame, hashed over the frames' hashes
    asset = version.asset
    assert asset.is_sequence and asset.original.name == f"productions/{production.code}/incoming/sc1/frame.%04d.png"
    assert asset.sequence_start == 1001 and asset.original_name == "frame.%04d.png"
    frames = [default_storage.open(f"productions/{production.code}/incoming/sc1/frame.{n:04d}.png").read() for n in range(1001, 1013)]
    per_frame = "".join(hashlib.sha256(frame).hexdigest() + "\n" for frame in frames)
    assert asset.sha256 == hashlib.sha256(per_frame.encode()).hexdigest()
    assert asset.size_bytes == sum(len(frame) for frame in frames)
    event = AuditEvent.objects.get(action="media.registered")
    assert (event.after["frames"], event.after["first_frame"], event.after["last_frame"]) == (12, 1001, 1012)


@pytest.mark.django_db
@pytest.mark.parametrize("path, message", [
    ("../etc/passwd", "may not contain '..'"),
    ("plates/../../secret.mov", "may not contain '..'"),
    ("/var/media/x.mov", "not absolute"),
    ("C:/footage/x.mov", "not absolute"),
    ("plates\\x.mov", "backslashes"),
    ("", "relative to the production's media folder"),
    ("plates/missing.mov", "No file at plates/missing.mov in this production's media"),
    ("plates/none.%04d.exr", "No frames in this production's media match plates/none.%04d.exr"),
    ("plates/x.%04d.%04d.exr", "exactly one frame number"),
])
def test_register_refuses_paths_it_cannot_use(path, message):
    # given a shot
    production, shot, editor = _world()

    # when a bad path is registered, then it is refused with a clear reason and nothing is made
    with pytest.raises(ValidationError, match=message.replace(".", r"\.").replace("(", r"\(")):
        register_media(actor=editor, shot=shot, path=path)
    assert not shot.versions.exists() and actions(production) == []


@pytest.mark.django_db
def test_a_sequence_with_missing_frames_is_refused_naming_them(sources):
    # given a sequence with frames 1004 and 1008-1009 missing
    production, shot, editor = _world()
    pattern = put_sequence_in_storage(sources.get("png"), "incoming/gappy", production=production)
    for number in (1004, 1008, 1009):
        default_storage.delete(f"productions/{production.code}/incoming/gappy/frame.{number}.png")

    # when it is registered, then the gaps are named
    with pytest.raises(ValidationError, match="frames 1004, 1008-1009 are missing"):
        register_media(actor=editor, shot=shot, path=pattern)


@pytest.mark.django_db
def test_retry_is_only_for_failed_assets_with_their_original():
    # given a queued asset and a failed one whose original is gone
    production, shot, editor = _world()
    queued = ingest_upload(actor=editor, shot=shot, uploaded_file=upload(b"x", "a.mov")).asset
    failed = ingest_upload(actor=editor, shot=shot, uploaded_file=upload(b"y", "b.mov")).asset
    MediaAsset.objects.filter(pk=failed.pk).update(status=AssetStatus.FAILED)
    default_storage.delete(failed.original.name)

    # when either is retried, then it is refused with the reason
    with pytest.raises(ValidationError, match="This one is queued. Only a failed or stuck ingest can be retried"):
        retry_ingest(actor=editor, asset=queued)
    with pytest.raises(ValidationError, match="no longer on media storage"):
        retry_ingest(actor=editor, asset=failed)
    assert "media.ingest_retried" not in actions(production)


@pytest.mark.django_db
def test_downloading_an_original_is_logged():
    # given an uploaded asset
    production, shot, editor = _world()
    asset = ingest_upload(actor=editor, shot=shot, uploaded_file=upload(b"bytes", "a.mov")).asset

    # when its original is downloaded
    event = services.record_original_download(actor=editor, asset=asset)

    # then the read is on record with what was read
    assert event.action == "media.original_downloaded" and event.actor == editor
    assert event.production == production and event.target_id == str(asset.pk)
    assert event.after["sha256"] == asset.sha256 and event.after["file"] == "a.mov"

import json

import opentimelineio as otio
import pytest
from django.core.files.storage import default_storage

from answerprint.audit.models import AuditEvent
from answerprint.delivery import mhl, provenance
from answerprint.delivery.models import PackageState
from answerprint.media import ffmpeg
from answerprint.media.models import MediaAsset
from tests.delivery.conftest import DeliveryWorld, packets


def _named(package, suffix):
    return f"SC010_SH030_v{package.version.number:03d}{suffix}"


def _local(package, relative=""):
    return default_storage.path(f"{package.folder}/{relative}" if relative else package.folder)


def test_a_prores_delivery_is_the_camera_original_with_only_the_approved_frames_replaced(db, tmp_path):
    # given a ProRes 422 HQ original at 23.976 with a start timecode and a reel, and an approved removal of 5..10
    world = DeliveryWorld(tmp_path, "prores", first=5, last=10)

    # when the proposal is promoted and its package built
    package = world.delivered()

    # then the delivery is ProRes 422 HQ like the source: size, rate, pixel format, colour tags, timecode, reel
    assert package.state == PackageState.READY, package.status_reason
    media = _local(package, package.media_name)
    made = ffmpeg.probe(media)
    assert (made.codec, made.profile, made.pixel_format) == ("prores", "HQ", "yuv422p10le")
    assert (made.width, made.height, str(made.rate), made.packet_count) == (256, 144, "24000/1001", 24)
    assert (made.color_primaries, made.color_transfer, made.color_space, made.color_range) == (
        "bt709", "bt709", "bt709", "tv")
    assert made.timecode == "01:00:10:00"
    header = ffmpeg.parse_header(ffmpeg.run(["-i", media]).stderr)
    assert any(s.metadata.get("reel_name") == "A001C003" for s in header.streams)
    # and the frames outside 5..10 are the original's packets, bit for bit; those inside are not
    original, delivered = packets(world.source_path), packets(media)
    untouched = [i for i in range(24) if not 5 <= i <= 10]
    assert [delivered[i] for i in untouched] == [original[i] for i in untouched]
    assert all(delivered[i] != original[i] for i in range(5, 11))
    # and the delivery version's picture is that file, queued for ingest like any other
    asset = package.version.asset
    assert asset.original.name == f"{package.folder}/{package.media_name}" and len(asset.sha256) == 64


def test_a_dnxhr_delivery_keeps_its_codec_profile_and_timecode(db, tmp_path):
    # given a DNxHR HQX original at 25 fps starting at 10:00:00:00, and an approved fix of its first frames
    world = DeliveryWorld(tmp_path, "dnxhr", first=0, last=3)

    # when it is delivered
    package = world.delivered()

    # then it is DNxHR HQX 10-bit at 25 fps from 10:00:00:00, and frames 4.. are the original's
    assert package.state == PackageState.READY, package.status_reason
    media = _local(package, package.media_name)
    made = ffmpeg.probe(media)
    assert (made.codec, made.profile, made.pixel_format, str(made.rate)) == ("dnxhd", "DNXHR HQX", "yuv422p10le", "25")
    assert made.timecode == "10:00:00:00" and made.packet_count == 20
    assert packets(media)[4:] == packets(world.source_path)[4:]
    assert packets(media)[0] != packets(world.source_path)[0]


def test_an_mxf_delivery_keeps_its_sound_and_carries_its_credentials_beside_it(db, tmp_path):
    # given DNxHR HQ in MXF with a sound track, and an approved fix of frames 3..6
    world = DeliveryWorld(tmp_path, "mxf", first=3, last=6)

    # when it is delivered
    package = world.delivered()

    # then it is MXF DNxHR HQ with the sound, the timecode and the untouched frames of the original
    assert package.state == PackageState.READY, package.status_reason
    media = _local(package, package.media_name)
    made = ffmpeg.probe(media)
    assert (made.container, made.profile, made.audio_streams, made.timecode) == ("mxf", "DNXHR HQ", 1, "10:00:00:00")
    original, delivered = packets(world.source_path), packets(media)
    assert delivered[:3] == original[:3] and delivered[7:] == original[7:] and delivered[3] != original[3]
    # and, MXF being a format C2PA cannot carry, the credentials are on the still and in a sidecar manifest
    assert package.credentials == [_named(package, ".poster.png"), _named(package, ".c2pa")]


def test_a_long_gop_source_is_delivered_as_prores_4444_with_every_frame_in_place(db, tmp_path):
    # given an H.264 original (a keyframe every 12 frames) from 02:00:00:00, and an approved fix of 5..10
    world = DeliveryWorld(tmp_path, "h264", first=5, last=10)

    # when it is delivered
    package = world.delivered()

    # then it is ProRes 4444 of the same size, rate, frame count and timecode, every frame encoded
    assert package.state == PackageState.READY, package.status_reason
    made = ffmpeg.probe(_local(package, package.media_name))
    assert (made.codec, made.profile, made.width, made.height, str(made.rate)) == ("prores", "4444", 256, 144, "24")
    assert made.packet_count == 24 and made.timecode == "02:00:00:00"
    sidecar = json.loads(open(_local(package, _named(package, ".delivery.json"))).read())
    assert (sidecar["media"]["copied_frames"], sidecar["media"]["encoded_frames"]) == (0, 24)


def test_an_exr_delivery_keeps_the_untouched_frames_as_the_original_files_and_stays_half_float(db, tmp_path):
    # given a 16-bit float EXR sequence numbered from 1001, and an approved fix of frames 4..9
    world = DeliveryWorld(tmp_path, "exr", first=4, last=9)

    # when it is delivered
    package = world.delivered()

    # then every frame is there under the original's name; untouched ones are the original files
    assert package.state == PackageState.READY, package.status_reason
    assert package.media_name == "A001_C002.%04d.exr" and package.is_sequence
    for number in range(1001, 1017):
        name = f"A001_C002.{number:04d}.exr"
        delivered = open(_local(package, name), "rb").read()
        original = default_storage.open(f"plates/exr/{name}").read()
        assert (delivered == original) == (not 1005 <= number <= 1010), name
    # and the replaced frames are half float EXR of the same size
    replaced = ffmpeg.probe(_local(package, "A001_C002.%04d.exr"), sequence_start=1005, sequence_rate=world.rate)
    assert (replaced.codec, replaced.pixel_format, replaced.width, replaced.height) == ("exr", "gbrpf16le", 256, 144)
    # and the sequence's content credentials are a signed still and a sidecar manifest that read back trusted
    assert set(package.credentials) == {_named(package, ".poster.png"), _named(package, ".c2pa")}
    read = provenance.read_credentials(_local(package, _named(package, ".poster.png")))
    assert read.state == "Trusted" and read.failures == []


def test_a_dpx_delivery_keeps_the_original_files_and_the_bit_depth(db, tmp_path):
    # given a 10-bit DPX sequence numbered from 1001, and an approved fix of frames 0..2
    world = DeliveryWorld(tmp_path, "dpx", first=0, last=2)

    # when it is delivered
    package = world.delivered()

    # then frames 1004.. are the original files, and the replaced ones are 10-bit DPX of the same size
    assert package.state == PackageState.READY, package.status_reason
    for number in range(1001, 1017):
        name = f"A001_C002.{number:04d}.dpx"
        same = open(_local(package, name), "rb").read() == default_storage.open(f"plates/dpx/{name}").read()
        assert same == (number >= 1004), name
    replaced = ffmpeg.probe(_local(package, package.media_name), sequence_start=1001, sequence_rate=world.rate)
    assert (replaced.codec, replaced.pixel_format, replaced.width, replaced.packet_count) == ("dpx", "gbrp10le", 256, 16)


def test_the_sidecar_and_the_otio_clip_name_the_shot_range_versions_and_signatures(db, tmp_path):
    # given a delivered ProRes fix of frames 5..10 of a source starting at 01:00:10:00 (23.976)
    world = DeliveryWorld(tmp_path, "prores", first=5, last=10)
    package = world.delivered()

    # when the sidecars are read back, the clip with OpenTimelineIO's own reader
    data = json.loads(open(_local(package, _named(package, ".delivery.json"))).read())
    clip = otio.adapters.read_from_file(_local(package, _named(package, ".otio")))

    # then the JSON names the shot, the versions, the range in frames and timecode, the signature and the model card
    proposal = package.proposal
    assert data["shot"] == "SC010_SH030" and data["production"] == world.production.code
    assert (data["source"]["version"], data["proposal"]["version"], data["delivery"]["version"]) == (
        world.plate.number, proposal.version.number, package.version.number)
    assert data["replaced"] == {"frame_in": 5, "frame_out": 10, "frames": 6, "timecode_in": "01:00:10:05",
                                "timecode_out": "01:00:10:11"}
    assert data["model_card_sha256"] == proposal.model_card_sha256
    assert [s["printed_name"] for s in data["signatures"]] == [world.producer.printed_name]
    # and the clip covers the media at its timecode with the approved range as a marker
    assert clip.media_reference.target_url == package.media_name
    assert otio.opentime.to_timecode(clip.source_range.start_time) == "01:00:10:00"
    assert clip.source_range.duration.value == 24
    marker = clip.markers[0]
    assert otio.opentime.to_timecode(marker.marked_range.start_time) == "01:00:10:05"
    assert marker.marked_range.duration.value == 6 and world.producer.printed_name in marker.name


def test_the_delivered_movie_carries_content_credentials_that_name_the_model_and_the_approver(db, tmp_path):
    # given a delivered ProRes fix
    world = DeliveryWorld(tmp_path, "prores")
    package = world.delivered()
    media = _local(package, package.media_name)

    # when its credentials are read back with the C2PA library, trusting the production's CA
    read = provenance.read_credentials(media)

    # then they validate, and say the source was opened and edited by a trained model, approved by the producer
    assert read.state == "Trusted" and read.failures == []
    actions = read.assertion("c2pa.actions.v2")["actions"]
    assert [a["action"] for a in actions][:2] == ["c2pa.opened", "c2pa.edited"]
    edited = actions[1]
    assert edited["digitalSourceType"] == provenance.COMPOSITE_WITH_TRAINED_MEDIA
    assert edited["parameters"]["model_card_sha256"] == package.proposal.model_card_sha256
    assert edited["parameters"]["approvals"][0]["printed_name"] == world.producer.printed_name
    assert read.manifest["ingredients"][0]["relationship"] == "parentOf"
    assert read.assertion(provenance.DELIVERY_ASSERTION)["source"]["name"] == "A001_C002_prores.mov"
    assert package.credentials == [package.media_name, _named(package, ".poster.png")]
    assert provenance.read_credentials(_local(package, _named(package, ".poster.png"))).state == "Trusted"
    # and one changed byte in the picture is reported
    data = bytearray(open(media, "rb").read())
    data[len(data) // 2] ^= 0x01
    tampered = tmp_path / "tampered.mov"
    tampered.write_bytes(data)
    assert provenance.read_credentials(tampered).failures


def test_the_package_verifies_against_its_asc_mhl_and_an_altered_file_is_named(db, tmp_path):
    # given a delivered package with its ASC MHL manifest
    world = DeliveryWorld(tmp_path, "prores")
    package = world.delivered()
    folder = _local(package)

    # then it verifies, every file listed with xxh64, md5 and sha1, and the manifest hash is recorded
    result = mhl.verify_manifest(folder)
    assert result.ok, result.problems
    assert result.checked == len(package.files) - 2  # all but the generation and chain files
    generation = default_storage.path(f"{package.folder}/{next(f['path'] for f in package.files if f['path'].endswith('.mhl'))}")
    text = open(generation).read()
    assert 'xmlns="urn:ASC:MHL:v2.0"' in text and "<xxh64" in text and "<md5" in text and "<sha1" in text
    event = AuditEvent.objects.get(action="delivery.packaged")
    assert event.after["manifest_sha256"] == package.manifest_sha256

    # when one byte of the sidecar is changed after the fact, and a stray file added
    sidecar = _local(package, _named(package, ".delivery.json"))
    data = bytearray(open(sidecar, "rb").read())
    data[10] ^= 0x01
    open(sidecar, "wb").write(data)
    open(_local(package, "extra.txt"), "w").write("not delivered")

    # then verification names both
    result = mhl.verify_manifest(folder)
    assert not result.ok
    assert any(f"{_named(package, '.delivery.json')} was altered" in p for p in result.problems)
    assert any("extra.txt is not in the manifest" in p for p in result.problems)


def test_an_altered_manifest_is_caught_by_the_chain(db, tmp_path):
    # given a delivered package whose manifest someone edited to match a changed file
    world = DeliveryWorld(tmp_path, "prores")
    package = world.delivered()
    generation = next(f["path"] for f in package.files if f["path"].endswith(".mhl"))
    path = _local(package, generation)
    open(path, "a").write("<!-- edited -->\n")

    # when it is verified, then the chain's C4 id names the altered generation
    result = mhl.verify_manifest(_local(package))
    assert not result.ok and "C4" in result.problems[0]


def test_a_promotion_puts_the_package_build_on_record_with_it(db, tmp_path):
    from answerprint.outbox.models import OutboxTask

    # given an approved proposal, promoted in a transaction that has not yet been followed by any task
    world = DeliveryWorld(tmp_path, "prores")
    proposal = world.approved_proposal()
    from answerprint.fixes import services as fix_services

    delivery = fix_services.promote_to_delivery(actor=world.editor, version=proposal.version)

    # then the build is on record, waiting to be published, so the sweep can send it if the broker loses it
    build = OutboxTask.objects.get(task_name="answerprint.delivery.tasks.build_package")
    assert build.args == [delivery.delivery_package.pk] and build.state == "pending"


def test_a_result_shorter_than_the_approved_range_fails_the_package_with_the_reason(db, tmp_path):
    # given an approved removal of frames 5..10 whose result holds only 3 frames
    world = DeliveryWorld(tmp_path, "prores", first=5, last=10)

    # when it is promoted and the package built
    package = world.delivered(result_frames=3)

    # then the package failed with a reason a person can act on, recorded in the audit log; nothing was delivered
    assert package.state == PackageState.FAILED and "needs 6" in package.status_reason
    assert AuditEvent.objects.filter(action="delivery.failed", target_id=str(package.pk)).exists()
    assert not MediaAsset.objects.filter(version=package.version).exists()
    package.version.refresh_from_db()
    assert package.version.state == "failed"


@pytest.mark.parametrize("changed", [False, True])
def test_the_verify_command_exits_one_when_a_package_was_altered(db, tmp_path, changed):
    from django.core.management import call_command

    # given a delivered package, changed after the fact or not
    world = DeliveryWorld(tmp_path, "prores")
    package = world.delivered()
    if changed:
        media = _local(package, package.media_name)
        data = bytearray(open(media, "rb").read())
        data[-100] ^= 0x01
        open(media, "wb").write(data)

    # when the command checks it, then it exits 1 only when changed, naming the file
    if changed:
        with pytest.raises(SystemExit) as exit_:
            call_command("delivery_verify", package.pk)
        assert exit_.value.code == 1
    else:
        call_command("delivery_verify", package.pk)


def test_a_package_file_downloads_by_permission_and_the_audit_event_names_the_manifest(client, db, tmp_path):
    # given a delivered package
    world = DeliveryWorld(tmp_path, "prores")
    package = world.delivered()
    url = f"/api/productions/{world.production.code}/deliveries/{package.pk}/files/{package.media_name}"

    # when an editor downloads its media
    client.force_login(world.editor)
    response = client.get(url)

    # then the bytes are the package's, and the download is audited with the manifest's hash
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == open(_local(package, package.media_name), "rb").read()
    event = AuditEvent.objects.get(action="delivery.downloaded")
    assert event.after["manifest_sha256"] == package.manifest_sha256 and event.actor_name == world.editor.printed_name
    # and a viewer may not, a path outside the manifest is not there, and the page lists the package
    assert client.get(f"{url[:url.rindex('/files/')]}/files/../../secrets.txt").status_code == 404
    client.force_login(world.viewer)
    assert client.get(url).status_code == 403
    page = client.get(f"/p/{world.production.code}/deliveries/").content.decode()
    assert package.manifest_sha256 in page and package.media_name in page
    assert f"/api/productions/{world.production.code}/notes/export.fcpxml" in page


def test_the_credentialed_still_is_the_first_replaced_frame(db, tmp_path):
    # given a delivered ProRes fix of frames 5..10
    world = DeliveryWorld(tmp_path, "prores", first=5, last=10)
    package = world.delivered()

    # when the still and frame 5 of the delivered media are decoded
    def decoded(*args):
        import subprocess

        from answerprint.media.ffmpeg import ffmpeg_binary

        return subprocess.run([ffmpeg_binary(), "-hide_banner", "-loglevel", "error", *args, "-frames:v", "1",
                               "-f", "rawvideo", "-pix_fmt", "rgb48le", "-"], check=True, capture_output=True).stdout

    still = decoded("-i", _local(package, _named(package, ".poster.png")))
    frames = [decoded("-i", _local(package, package.media_name), "-vf", f"select=eq(n\\,{n})") for n in (4, 5, 6)]

    # then it is frame 5, not its neighbours
    assert still == frames[1] and still != frames[0] and still != frames[2]


def test_promotion_builds_the_package_on_the_worker_after_commit_and_ingests_its_media(
        db, tmp_path, django_capture_on_commit_callbacks):
    from answerprint.celery import tasks_run_here
    from answerprint.fixes import services as fix_services

    # given an approved ProRes proposal
    world = DeliveryWorld(tmp_path, "prores")
    proposal = world.approved_proposal()

    # when it is promoted and the queued tasks run (here, eagerly) after commit
    with tasks_run_here(), django_capture_on_commit_callbacks(execute=True):
        delivery = fix_services.promote_to_delivery(actor=world.editor, version=proposal.version, reason="Conform")

    # then the build and the ingest were on record in the outbox (a lost task is sent again), now done
    from answerprint.outbox.models import OutboxTask

    package = delivery.delivery_package
    build = OutboxTask.objects.get(task_name="answerprint.delivery.tasks.build_package")
    assert build.args == [package.pk] and build.state == "done"
    assert OutboxTask.objects.filter(task_name="answerprint.media.tasks.process_asset", state="done").exists()
    # and the package was built and the delivery version's media went through ingest
    package.refresh_from_db()
    assert package.state == PackageState.READY, package.status_reason
    asset = MediaAsset.objects.get(version=delivery)
    assert asset.status == "ready", asset.status_reason
    assert (asset.codec, asset.start_timecode, asset.frame_count) == ("prores", "01:00:10:00", 24)

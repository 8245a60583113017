import hashlib
import json
import re
import subprocess
from collections import Counter
from io import StringIO

import numpy as np
import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.files.storage import default_storage
from django.core.management import call_command

from answerprint.accounts.models import Membership, Production
from answerprint.audit.models import AuditEvent
from answerprint.audit.selectors import verify_chain
from answerprint.celery import app as celery_app
from answerprint.media import demo_footage
from answerprint.media.demo_footage import (SMALL, STANDARD, boom_matte, burn_frame_number, decode_frames,
                                            generate_demo_footage, green_screen_matte, read_burned_frame_number,
                                            render_frame, spec_named)
from answerprint.media.ffmpeg import probe
from answerprint.media.models import AssetStatus, MediaAsset, Shot, Version
from tests.factories import UserFactory

LUMA = np.array([0.2126, 0.7152, 0.0722])


class Footage:
    def __init__(self, root):
        self.root = root
        self.shots = {shot.name: shot for shot in generate_demo_footage(root, SMALL)}
        self.folder = demo_footage.footage_folder(root, SMALL)

    def path(self, name):
        return self.folder / self.shots[name].path

    def frames(self, name):
        shot = self.shots[name]
        return decode_frames(self.path(name), shot.width, shot.height,
                             sequence_start=shot.first_frame if shot.is_sequence else None)


@pytest.fixture(scope="session")
def footage(tmp_path_factory):
    return Footage(tmp_path_factory.mktemp("demo-footage"))


def _mean_luma(frames):
    return (frames.astype(np.float64) @ LUMA).mean(axis=(1, 2))


def _h264_round_trip(frames, width, height, crf):
    """Encode frames as a browser proxy would be (H.264 4:2:0, scaled), and decode them again."""
    source_height, source_width = frames[0].shape[:2]
    result = subprocess.run(
        [demo_footage.ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
         "-s", f"{source_width}x{source_height}", "-framerate", "24", "-i", "-", "-vf", f"scale={width}:{height}",
         "-c:v", "libx264", "-crf", str(crf), "-pix_fmt", "yuv420p", "-f", "matroska", "-"],
        input=b"".join(frame.tobytes() for frame in frames), capture_output=True, check=True)
    decoded = subprocess.run(
        [demo_footage.ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-i", "-", "-f", "rawvideo",
         "-pix_fmt", "rgb24", "-"], input=result.stdout, capture_output=True, check=True)
    return np.frombuffer(decoded.stdout, dtype=np.uint8).reshape(-1, height, width, 3)


# ---------------------------------------------------------------------------------------------
# The footage


def test_the_demo_has_a_shot_for_every_problem_the_fixes_solve(footage):
    # given the generated demo footage
    shots = list(footage.shots.values())

    # then it has the problems, the performer and the clean neighbours, named like a real production
    assert len(shots) >= 6
    assert {"boom", "flicker", "grade", "greenscreen"} <= {p for shot in shots for p in shot.problems}
    assert any("performer" in shot.roles and not shot.problems for shot in shots)
    assert any("clean" in shot.roles for shot in shots)
    assert all(re.fullmatch(r"SC\d{3}_SH\d{3}", shot.name) and shot.first_frame == 1001 for shot in shots)
    assert footage.shots["SC010_SH020"].truth["colour_reference"] == "SC010_SH010"
    # and its sources vary the way a production's do
    assert Counter(shot.container for shot in shots) == {"mp4": 5, "mov": 1, "png": 1}
    assert {(shot.fps_num, shot.fps_den) for shot in shots} == {(24, 1), (24000, 1001)}
    boom = footage.shots["SC010_SH030"]
    assert f"Boom dips into frame at {boom.truth['boom_frames'][0]}–{boom.truth['boom_frames'][1]}" in boom.description


@pytest.mark.parametrize("name", ["SC010_SH010", "SC010_SH030", "SC020_SH010", "SC030_SH020"])
def test_each_shot_has_the_frames_rate_and_timecode_it_claims(footage, name):
    # given a generated shot (H.264, ProRes, 23.976 H.264 and a PNG sequence among them)
    shot = footage.shots[name]

    # when ingest's own probe reads it and every frame is decoded
    found = probe(str(footage.path(name)), sequence_start=shot.first_frame if shot.is_sequence else None,
                  sequence_rate=shot.fps if shot.is_sequence else None)
    frames = footage.frames(name)

    # then it has exactly its frames, at its rational rate, from its start timecode
    assert len(frames) == shot.frame_count == shot.last_frame - 1001 + 1
    assert found.rate == shot.fps
    assert (found.width, found.height) == (SMALL.width, SMALL.height)
    assert found.codec == {"mp4": "h264", "mov": "prores", "png": "png"}[shot.container]
    assert found.timecode == shot.timecode  # none for the image sequence


def test_every_frame_of_every_file_reads_back_its_own_frame_number(footage):
    # given every shot, decoded from its file (H.264, ProRes and PNG, 160 pixels wide)
    for name, shot in footage.shots.items():
        # when the burned strip of each frame is read
        numbers = [read_burned_frame_number(frame) for frame in footage.frames(name)]

        # then it names exactly that frame
        assert numbers == list(range(shot.first_frame, shot.last_frame + 1)), name


def test_the_burned_frame_number_survives_an_h264_proxy_640_wide():
    # given full-size frames from the flickering 23.976 shot, the hardest for a reader
    spec = spec_named("SC020_SH010")
    indices = [0, 1, 2, 17, 42, 59]
    frames = [render_frame(spec, index, STANDARD) for index in indices]

    # when they go through an H.264 encode at 640×360, harder than the proxy's, and are decoded
    decoded = _h264_round_trip(frames, 640, 360, crf=32)

    # then each reads back as exactly its frame number
    assert [read_burned_frame_number(frame) for frame in decoded] == [1001 + index for index in indices]


def test_the_reader_takes_rgba_and_refuses_frames_without_a_valid_strip():
    # given a frame with 1234 burned in, as a canvas hands it over (RGBA)
    frame = burn_frame_number(np.full((90, 160, 3), 128, dtype=np.uint8), 1234)
    rgba = np.concatenate([frame, np.full((90, 160, 1), 255, dtype=np.uint8)], axis=-1)
    assert read_burned_frame_number(rgba) == 1234

    # when a frame has no strip, or one block of the strip is flipped
    blank = np.full((90, 160, 3), 128, dtype=np.uint8)
    damaged = frame.copy()
    _unit, blocks, _plate, _digits = demo_footage._strip_layout(160, 90)
    x0, y0, x1, y1 = blocks[10]
    damaged[y0:y1, x0:x1] = 255 - damaged[y0:y1, x0:x1]

    # then the reader says so instead of returning a wrong number
    with pytest.raises(ValueError, match="No frame-number strip"):
        read_burned_frame_number(blank)
    with pytest.raises(ValueError, match="parity"):
        read_burned_frame_number(damaged)


def test_the_boom_is_in_frame_only_in_its_window_and_never_in_the_clean_plate_region(footage):
    # given the boom shot as decoded from its ProRes file, and the same frames rendered without the boom
    shot, spec = footage.shots["SC010_SH030"], spec_named("SC010_SH030")
    first, last = shot.truth["boom_frames"]
    frames = footage.frames("SC010_SH030")
    lower_half = slice(SMALL.height // 2, None)

    for index, frame in enumerate(frames):
        clean = render_frame(spec, index, SMALL, problems=False).astype(np.int16)
        difference = np.abs(frame.astype(np.int16) - clean).mean(axis=-1)
        matte = boom_matte(spec, index, SMALL)
        # then inside its window the boom covers part of the frame and darkens it there
        if first <= 1001 + index <= last:
            covered = matte > 0.5
            assert covered.mean() > 0.01, index
            assert difference[covered].mean() > 40, index
        # and outside it the frame is the clean plate, up to the codec's noise
        else:
            assert not matte.any(), index
            assert difference.mean() < 6, index
        # and the lower half of the frame never sees it
        assert not matte[lower_half].any()
        assert difference[lower_half].mean() < 6, index


def test_the_flicker_shot_jumps_in_brightness_far_more_than_clean_shots(footage):
    # given the mean luminance of each frame of the flickering shot and of clean shots
    flicker = _mean_luma(footage.frames("SC020_SH010"))
    clean_neighbour = _mean_luma(footage.frames("SC010_SH010"))
    spec = spec_named("SC020_SH010")
    unflickered = _mean_luma(np.stack([render_frame(spec, index, SMALL, problems=False)
                                       for index in range(len(flicker))]))

    # then its frame-to-frame changes are several times larger than theirs
    assert np.std(np.diff(flicker)) > 4 * np.std(np.diff(clean_neighbour))
    assert np.std(np.diff(flicker)) > 4 * np.std(np.diff(unflickered))


def test_the_graded_shot_is_warmer_than_its_reference_and_matches_it_without_the_grade(footage):
    # given the mean colour of the graded shot, its reference and the graded shot rendered without its grade
    reference = footage.frames("SC010_SH010").reshape(-1, 3).mean(axis=0)
    graded = footage.frames("SC010_SH020").reshape(-1, 3).mean(axis=0)
    spec = spec_named("SC010_SH020")
    ungraded = np.stack([render_frame(spec, index, SMALL, problems=False)
                         for index in range(footage.shots["SC010_SH020"].frame_count)]).reshape(-1, 3).mean(axis=0)

    # then the grade pushed red up against blue, and without it the shot sits close to its reference
    assert graded[0] / graded[2] > 1.3 * reference[0] / reference[2]
    assert np.linalg.norm(ungraded - reference) < 0.5 * np.linalg.norm(graded - reference)


def test_the_green_screen_is_uneven_chroma_green_that_spills_onto_the_subject(footage):
    # given a frame of the green-screen sequence and the subject's true matte
    spec = spec_named("SC030_SH020")
    frame = footage.frames("SC030_SH020")[4].astype(np.float64)
    alpha = green_screen_matte(spec, 4, SMALL)
    excess_green = frame[..., 1] - (frame[..., 0] + frame[..., 2]) / 2
    screen = alpha < 0.01
    screen[SMALL.height * 3 // 4:] = False  # not the burned-in strip

    # then the screen is green everywhere, but not evenly lit
    assert (excess_green[screen] > 40).mean() > 0.98
    assert np.percentile(frame[..., 1][screen], 95) - np.percentile(frame[..., 1][screen], 5) > 20
    # and the subject's edge is greener than its inside (spill)
    edge, inside = (alpha > 0.3) & (alpha < 0.9), alpha > 0.999
    assert edge.sum() > 20 and inside.sum() > 200
    assert np.median(excess_green[edge]) > np.median(excess_green[inside]) + 15


def test_generation_is_deterministic_and_a_second_call_reuses_the_files(footage, tmp_path):
    # given the footage made once
    manifest = footage.folder / "manifest.json"
    made_at = manifest.stat().st_mtime_ns

    # when it is asked for again, and one shot is made afresh elsewhere
    again = generate_demo_footage(footage.root, SMALL)
    fresh = generate_demo_footage(tmp_path, SMALL, specs=(spec_named("SC010_SH010"),))

    # then the first comes from the cache and the fresh file is byte for byte the same
    assert manifest.stat().st_mtime_ns == made_at
    assert [shot.name for shot in again] == list(footage.shots)
    digest = [hashlib.sha256(path.read_bytes()).hexdigest()
              for path in (footage.path("SC010_SH010"), demo_footage.footage_folder(tmp_path, SMALL) / fresh[0].path)]
    assert digest[0] == digest[1]


# ---------------------------------------------------------------------------------------------
# seed_demo

SEED_ACTIONS = {"user.created": 6, "production.created": 1, "membership.granted": 5, "shot.created": 7,
                "media.uploaded": 6, "media.registered": 1}


@pytest.fixture
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def with_worker(monkeypatch):
    """A broker that a worker could read from (nothing is sent: tests never commit)."""
    monkeypatch.setitem(celery_app.conf, "broker_url", "redis://127.0.0.1:6399/0")


def _seed(footage, *args):
    out = StringIO()
    call_command("seed_demo", "--small", *args, footage_dir=footage.root, stdout=out, stderr=StringIO())
    return out.getvalue()


def _counts():
    return {
        "productions": Production.objects.count(), "users": get_user_model().objects.count(),
        "memberships": Membership.objects.count(), "shots": Shot.objects.count(),
        "versions": Version.objects.count(), "assets": MediaAsset.objects.count(),
        "events": AuditEvent.objects.count(),
    }


@pytest.mark.django_db
def test_seeding_twice_creates_and_logs_nothing_the_second_time(footage, fast_passwords, with_worker):
    # given the demo seeded once, with ingest left to the worker
    _seed(footage)
    first = _counts()

    # when it is seeded again
    output = _seed(footage)

    # then nothing more exists and the audit log did not grow
    assert _counts() == first
    assert first == {"productions": 1, "users": 6, "memberships": 5, "shots": 7, "versions": 7, "assets": 7,
                     "events": sum(SEED_ACTIONS.values())}
    assert Counter(AuditEvent.objects.values_list("action", flat=True)) == SEED_ACTIONS
    assert "created 0 users, 0 memberships, 0 shots, 0 versions" in output
    assert verify_chain().ok


@pytest.mark.django_db
def test_without_process_now_the_plates_wait_for_the_worker(footage, fast_passwords, with_worker):
    # when the demo is seeded where a worker would take the queue
    output = _seed(footage)

    # then every plate is stored and queued, none processed here
    assets = MediaAsset.objects.all()
    assert {asset.status for asset in assets} == {AssetStatus.QUEUED}
    assert all(default_storage.exists(asset.original.name) for asset in assets if not asset.is_sequence)
    assert "queued for the media worker" in output


@pytest.mark.django_db
def test_the_demo_people_log_in_with_the_printed_password_and_hold_their_roles(footage, fast_passwords,
                                                                               with_worker):
    # when the demo is seeded
    output = _seed(footage)

    # then each role's person logs in with the demo password, under a printed name
    production = Production.objects.get(code="demo")
    assert production.title == "The Answer Print — demo"
    assert (production.fps_num, production.fps_den) == (24, 1)
    for role in ("producer", "supervisor", "editor", "compliance", "viewer"):
        user = authenticate(username=role, password="answerprint-demo")
        assert user is not None and user.full_name
        assert Membership.objects.get(production=production, user=user).role == role
        assert role in output and user.full_name in output
    admin = authenticate(username="admin", password="answerprint-demo")
    assert admin is not None and admin.is_superuser
    assert "answerprint-demo" in output


@pytest.mark.django_db
def test_the_shots_are_named_described_and_ranged_like_a_production(footage, fast_passwords, with_worker):
    # when the demo is seeded
    _seed(footage)

    # then each shot carries its sequence, what it needs and its frames from 1001, with one plate
    boom = Shot.objects.get(name="SC010_SH030")
    first, last = footage.shots["SC010_SH030"].truth["boom_frames"]
    assert boom.sequence == "SC010" and f"Boom dips into frame at {first}–{last}" in boom.description
    for name, generated in footage.shots.items():
        shot = Shot.objects.get(name=name)
        assert (shot.first_frame, shot.last_frame) == (1001, generated.last_frame)
        assert [v.number for v in shot.versions.all()] == [1]
    sequence = MediaAsset.objects.get(version__shot__name="SC030_SH020")
    assert sequence.is_sequence and sequence.sequence_start == 1001
    assert sequence.original.name.endswith("SC030_SH020.%04d.png")


@pytest.mark.django_db
def test_a_run_that_stopped_half_way_is_finished_without_duplicates(footage, fast_passwords, with_worker):
    # given a first run that created a shot but stopped before its plate was brought in
    _seed(footage)
    shot = Shot.objects.get(name="SC010_SH010")
    Version.objects.filter(shot=shot).delete()
    shot_count = Shot.objects.count()

    # when the demo is seeded again
    _seed(footage)

    # then that shot gets its plate and nothing else is added
    assert Shot.objects.count() == shot_count
    assert shot.versions.count() == 1
    assert AuditEvent.objects.filter(action="media.uploaded", target_repr__startswith="SC010_SH010").count() == 2


@pytest.mark.django_db
def test_with_process_now_every_plate_ends_ready_with_a_poster(footage, fast_passwords):
    # when the demo is seeded and ingested in this process
    _seed(footage, "--process-now")

    # then every asset is ready, with a proxy and a poster, and what ingest measured matches the footage
    assets = MediaAsset.objects.select_related("version__shot")
    assert len(assets) == 7
    for asset in assets:
        generated = footage.shots[asset.version.shot.name]
        assert asset.status == AssetStatus.READY, asset.status_reason
        assert asset.poster and default_storage.exists(asset.poster.name)
        assert asset.proxy and default_storage.exists(asset.proxy.name)
        assert asset.frame_count == generated.frame_count
        assert (asset.fps_num, asset.fps_den) == (generated.fps_num, generated.fps_den)
        assert asset.start_timecode == generated.timecode

    # and a second run processes nothing again and logs nothing
    events = AuditEvent.objects.count()
    _seed(footage, "--process-now")
    assert AuditEvent.objects.count() == events
    assert AuditEvent.objects.filter(action="media.ingested").count() == 7


@pytest.mark.django_db
def test_with_no_broker_a_worker_could_read_the_plates_are_ingested_here(footage, fast_passwords, monkeypatch):
    # given Celery's broker is this process's memory, which no worker can read
    monkeypatch.setitem(celery_app.conf, "broker_url", "memory://")

    # when the demo is seeded without --process-now
    output = _seed(footage)

    # then the plates were ingested here rather than queued for ever, and the output says why
    assert set(MediaAsset.objects.values_list("status", flat=True)) == {AssetStatus.READY}
    assert "no worker can read" in output


@pytest.mark.django_db
def test_an_existing_user_keeps_their_account(footage, fast_passwords, with_worker):
    # given someone already uses the name "viewer", with their own password
    existing = UserFactory(username="viewer", full_name="Someone Else")

    # when the demo is seeded
    _seed(footage)

    # then their account is untouched, and they are the demo's viewer
    existing.refresh_from_db()
    assert existing.full_name == "Someone Else" and existing.check_password("correct-horse-battery")
    assert Membership.objects.get(user=existing, production__code="demo").role == "viewer"
    assert AuditEvent.objects.filter(action="user.created").count() == 5


@pytest.mark.django_db
def test_an_export_of_the_demo_verifies_offline_and_a_tampered_copy_is_named(footage, fast_passwords, with_worker,
                                                                             tmp_path, settings):
    from answerprint.audit.signing import ensure_signing_key
    from tests.audit.test_exports import export, verify

    # given the seeded demo, its log exported as compliance would
    settings.AUDIT_SIGNING_KEY_FILE = tmp_path / "key.pem"
    ensure_signing_key(settings.AUDIT_SIGNING_KEY_FILE)
    _seed(footage)
    compliance = get_user_model().objects.get(username="compliance")
    path = export(tmp_path, production=Production.objects.get(), actor=compliance)

    # when the standalone verifier checks it, then it passes
    code, output = verify(path)
    assert code == 0, output

    # and when one byte of an event is changed, the verifier names that event
    lines = path.read_bytes().split(b"\n")
    target = next(i for i, line in enumerate(lines) if b'"action":"shot.created"' in line)
    lines[target] = lines[target].replace(b"SC0", b"SC9", 1)
    path.write_bytes(b"\n".join(lines))
    code, output = verify(path)
    sequence = json.loads(lines[target])["sequence"]
    assert code == 1 and f"#{sequence}" in output and "altered" in output

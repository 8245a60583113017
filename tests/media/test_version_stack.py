"""Which version a shot opens on, and failed uploads that their uploader deletes."""
import uuid

import pytest
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from answerprint.accounts.models import Role
from answerprint.audit.models import AuditEvent
from answerprint.fixes.models import ProposalState
from answerprint.media import services
from answerprint.media.models import AssetStatus, MediaAsset, Version, VersionState
from tests.factories import ProductionFactory, ShotFactory, VersionFactory, member

pytestmark = pytest.mark.django_db


@pytest.fixture
def shot():
    return ShotFactory(production=ProductionFactory(code="stack"), name="SC010_SH030")


def version(shot, state, *, kind="plate", by=None, content=b"bytes"):
    made = VersionFactory(shot=shot, kind=kind, state=state, created_by=by)
    name = default_storage.save(f"tests/{uuid.uuid4().hex}/original.mov", ContentFile(content))
    MediaAsset.objects.create(version=made, original=name, original_name="original.mov", sha256="c" * 64,
                              size_bytes=len(content), fps_num=24, fps_den=1, frame_count=12, width=64, height=36,
                              status=AssetStatus.READY if state == VersionState.READY else AssetStatus.FAILED,
                              proxy="tests/proxy.mp4" if state == VersionState.READY else "")
    return made


def proposal_in_state(shot, parent, state):
    from answerprint.fixes.models import FixRequest, Job, Proposal

    made = version(shot, VersionState.READY, kind="proposal")
    user = member(shot.production, Role.SUPERVISOR)
    fix = FixRequest.objects.create(production=shot.production, shot=shot, source_version=parent,
                                    kind="object_removal", frame_in=0, frame_out=11, reason="x", requested_by=user)
    job = Job.objects.create(request=fix, time_limit_s=60)
    Proposal.objects.create(request=fix, job=job, version=made, model_card={"kind": "removal"},
                            model_card_sha256="d" * 64, media_sha256="e" * 64, state=state)
    return made


def opened_version(client, shot):
    viewer = member(shot.production, Role.VIEWER)
    client.force_login(viewer)
    page = client.get(f"/p/{shot.production.code}/shots/{shot.name}/").content.decode()
    return int(page.split('aria-current="true" class="current" data-version="')[1].split('"')[0])


def test_the_shot_opens_on_its_latest_approved_version_over_newer_ones(client, shot):
    # given a plate, an approved proposal and a newer proposal still waiting
    plate = version(shot, VersionState.READY)
    approved = proposal_in_state(shot, plate, ProposalState.APPROVED)
    proposal_in_state(shot, plate, ProposalState.PENDING)

    # then the page opens on the approved one
    assert opened_version(client, shot) == approved.number


def test_failed_rejected_and_processing_versions_never_take_the_default(client, shot):
    # given a ready plate, then a rejected proposal, a failed upload and one still processing
    plate = version(shot, VersionState.READY)
    proposal_in_state(shot, plate, ProposalState.REJECTED)
    version(shot, VersionState.FAILED)
    VersionFactory(shot=shot, state=VersionState.PROCESSING)

    # then the page opens on the plate, and lists all four
    assert opened_version(client, shot) == plate.number
    page = client.get(f"/p/{shot.production.code}/shots/{shot.name}/").content.decode()
    assert page.count("data-version=") == 4 and "state-rejected" in page


def test_the_uploader_deletes_a_failed_upload_and_the_next_upload_takes_its_number(
        client, shot, tmp_path, django_capture_on_commit_callbacks):
    # given an editor whose upload v002 failed
    editor = member(shot.production, Role.EDITOR)
    version(shot, VersionState.READY, by=editor)
    failed = version(shot, VersionState.FAILED, by=editor, content=b"corrupt original")
    original = failed.asset.original.name
    client.force_login(editor)

    # when they delete it from the shot page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/p/{shot.production.code}/shots/{shot.name}/v{failed.number}/delete/",
                               {"reason": "wrong file"})

    # then it is gone, its original kept under retained/ as the audit event says, and audited
    assert response.status_code == 302
    assert not Version.objects.filter(pk=failed.pk).exists()
    event = AuditEvent.objects.get(action="media.version_deleted")
    kept = event.after["original_kept_as"]
    assert kept.startswith(f"retained/{shot.production.code}/{shot.name}/v{failed.number:03d}-")
    assert default_storage.open(kept).read() == b"corrupt original"
    assert not default_storage.exists(original)
    assert event.reason == "wrong file" and event.before["sha256"] == "c" * 64

    # and the next upload is v002 again
    upload = tmp_path / "plate.mov"
    upload.write_bytes(b"not really a movie")
    with upload.open("rb") as handle:
        again = services.ingest_upload(actor=editor, shot=shot, uploaded_file=File(handle, name="plate.mov"))
    assert again.number == failed.number


def test_only_the_uploader_may_delete_and_only_a_failed_version(client, shot):
    editor, other = member(shot.production, Role.EDITOR), member(shot.production, Role.EDITOR)
    ready = version(shot, VersionState.READY, by=editor)
    failed = version(shot, VersionState.FAILED, by=editor)
    client.force_login(other)
    client.post(f"/p/{shot.production.code}/shots/{shot.name}/v{failed.number}/delete/", follow=True)
    client.force_login(editor)
    page = client.post(f"/p/{shot.production.code}/shots/{shot.name}/v{ready.number}/delete/",
                       follow=True).content.decode()
    assert Version.objects.filter(pk__in=[ready.pk, failed.pk]).count() == 2
    assert "only a failed upload can be deleted" in page
    assert not AuditEvent.objects.filter(action="media.version_deleted").exists()

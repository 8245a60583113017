import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from answerprint.accounts.models import Role
from answerprint.fixes import services
from answerprint.fixes.models import Consent, Decision, FixRequest, ProposalState
from answerprint.fixes.signatures import proposal_record_hash
from answerprint.media.models import AssetStatus, MediaAsset
from tests.factories import PASSWORD, ProductionFactory, authenticator_code, member
from tests.fixes.conftest import consent_for


def _page(world, path):
    return f"/p/{world.production.code}/{path}"


def _ready(proposal):
    """The proposal's ingest finished (the media worker's part), so the page shows the compare."""
    MediaAsset.objects.filter(version=proposal.version).update(
        status=AssetStatus.READY, fps_num=24, fps_den=1, frame_count=12, width=64, height=36,
        proxy="tests/proxy.mp4", poster="tests/poster.jpg")
    return proposal


def test_a_supervisor_requests_a_removal_from_the_page(client, world):
    # given the request form for the plate, offering the drawn region
    client.force_login(world.supervisor)
    form = client.get(_page(world, f"fixes/new/?version={world.plate.pk}"))
    assert form.status_code == 200 and str(world.boom.pk) in form.content.decode()

    # when they submit a removal of that region
    response = client.post(_page(world, "fixes/new/"), {
        "source_version": world.plate.pk, "kind": "object_removal", "mask_annotation": str(world.boom.pk),
        "frame_in": "1001", "frame_out": "1012", "params": '{"iterations": 20}', "reason": "Boom in the top left"})

    # then the request is queued and they land on its page, which follows the job
    fix = FixRequest.objects.get()
    assert response.status_code == 302 and response["Location"] == _page(world, f"fixes/{fix.pk}/")
    assert fix.origin == "ui" and fix.params["iterations"] == 20
    assert (fix.frame_in, fix.frame_out) == (0, 11)
    detail = client.get(response["Location"]).content.decode()
    assert "Queued" in detail and "data-reload-when-ready" in detail


def test_a_refused_request_keeps_what_was_typed_and_says_why(client, world):
    client.force_login(world.supervisor)
    response = client.post(_page(world, "fixes/new/"), {
        "source_version": world.plate.pk, "kind": "performance_alteration", "mask_annotation": str(world.boom.pk),
        "performer": "Mara Quell", "params": "", "reason": "Re-recorded line"}, follow=True)
    page = response.content.decode()
    assert response.status_code == 400 and not FixRequest.objects.exists()
    assert "No consent from Mara Quell is on file" in page and "Re-recorded line" in page


def test_parameters_that_are_not_json_are_refused(client, world):
    client.force_login(world.supervisor)
    response = client.post(_page(world, "fixes/new/"), {
        "source_version": world.plate.pk, "kind": "object_removal", "mask_annotation": str(world.boom.pk),
        "params": "{iterations: 20", "reason": "Boom"})
    assert response.status_code == 400 and "Parameters must be JSON" in response.content.decode()


def test_a_failed_job_shows_its_reason(client, world):
    fix = world.removal()
    job = fix.jobs.get()
    services.start_job(job.pk, worker="gpu-01")
    services.fail_job(job.pk, "ffmpeg could not decode the plate: moov atom not found")
    client.force_login(world.viewer)
    page = client.get(_page(world, f"fixes/{fix.pk}/")).content.decode()
    assert "ffmpeg could not decode the plate: moov atom not found" in page and "Run again" not in page
    client.force_login(world.supervisor)
    assert "Run again" in client.get(_page(world, f"fixes/{fix.pk}/")).content.decode()


def test_the_proposal_panel_shows_compare_provenance_and_the_signature_dialog(client, world, tmp_path):
    # given a ready proposal
    proposal = _ready(world.propose(world.removal(), tmp_path))
    client.force_login(world.producer)

    # when the producer opens it
    page = client.get(_page(world, f"fixes/{proposal.request_id}/")).content.decode()

    # then both pictures, the model card, the hashes and a signature form with password and meaning are there
    assert f"/m/{world.plate.asset.pk}/proxy" in page and f"/m/{proposal.version.asset.pk}/proxy" in page
    assert "flow-propagation+internal-cnn" in page and proposal.media_sha256 in page
    assert proposal_record_hash(proposal) in page
    assert 'type="password"' in page and 'name="meaning"' in page and "Responsibility" in page
    assert 'name="record_hash"' in page


def test_a_viewer_sees_the_proposal_but_no_decision_form(client, world, tmp_path):
    proposal = _ready(world.propose(world.removal(), tmp_path))
    client.force_login(world.viewer)
    page = client.get(_page(world, f"fixes/{proposal.request_id}/")).content.decode()
    assert proposal.media_sha256 in page and 'type="password"' not in page


def test_signing_from_the_page_shows_the_manifestation(client, world, tmp_path):
    # given a ready proposal, and the producer's signature dialog
    proposal = _ready(world.propose(world.removal(), tmp_path))
    client.force_login(world.producer)

    # when they sign with their password, meaning approval
    response = client.post(_page(world, f"proposals/{proposal.pk}/decide/"), {
        "outcome": "approve", "meaning": "approval", "password": PASSWORD,
        "second_factor": authenticator_code(world.producer), "record_hash": proposal_record_hash(proposal)},
        follow=True)

    # then the page shows the signature: printed name, meaning and time, and the promote button
    page = response.content.decode()
    decision = Decision.objects.get()
    assert f"Signed: {decision.manifestation}." in page
    assert world.producer.printed_name in page and f"{decision.signed_at:%Y-%m-%d %H:%M:%S} UTC" in page
    assert decision.signature_hash in page and "Promote to delivery" in page


def test_a_wrong_password_on_the_page_signs_nothing(client, world, tmp_path):
    proposal = _ready(world.propose(world.removal(), tmp_path))
    client.force_login(world.producer)
    response = client.post(_page(world, f"proposals/{proposal.pk}/decide/"), {
        "outcome": "approve", "meaning": "approval", "password": "wrong",
        "record_hash": proposal_record_hash(proposal)}, follow=True)
    assert "The password is not correct: nothing was signed." in response.content.decode()
    assert not Decision.objects.exists()


def test_request_changes_from_the_page_opens_the_follow_up(client, world, tmp_path):
    proposal = _ready(world.propose(world.removal(), tmp_path))
    client.force_login(world.producer)
    response = client.post(_page(world, f"proposals/{proposal.pk}/decide/"), {
        "outcome": "request_changes", "reason": "Grow the mask", "follow_up": "1",
        "follow_up_params": '{"grow": 6}'})
    follow_up = FixRequest.objects.exclude(pk=proposal.request_id).get()
    assert response["Location"] == _page(world, f"fixes/{follow_up.pk}/")
    assert follow_up.params["grow"] == 6 and follow_up.follow_up_of_id == proposal.request_id


def test_promotion_from_the_page_is_refused_until_approved(client, world, tmp_path):
    proposal = _ready(world.propose(world.removal(), tmp_path))
    client.force_login(world.editor)
    refused = client.post(_page(world, f"proposals/{proposal.pk}/promote/"), follow=True).content.decode()
    assert "only an approved proposal can be promoted" in refused
    world.sign(proposal, world.producer)
    client.post(_page(world, f"proposals/{proposal.pk}/promote/"))
    proposal.refresh_from_db()
    assert proposal.delivery_version.kind == "delivery"


def test_the_approvals_page_lists_posters_kind_requester_and_reason(client, world, tmp_path):
    # given two ready proposals waiting for a producer
    first = _ready(world.propose(world.removal(reason="Boom, first pass"), tmp_path))
    client.force_login(world.producer)
    with CaptureQueriesContext(connection) as one:
        client.get(_page(world, "approvals/"))
    second = _ready(world.propose(world.removal(reason="Boom, second pass"), tmp_path))

    # when they open the queue
    with CaptureQueriesContext(connection) as two:
        page = client.get(_page(world, "approvals/")).content.decode()

    # then both are there, oldest first, with poster, kind, who asked and why; queries do not grow per row
    assert page.index("Boom, first pass") < page.index("Boom, second pass")
    assert f"/m/{first.version.asset.pk}/poster" in page and f"/m/{second.version.asset.pk}/poster" in page
    assert "Rig / object removal" in page and world.supervisor.printed_name in page
    assert len(two.captured_queries) == len(one.captured_queries)


def test_the_consent_registry_records_and_revokes(client, world):
    # given compliance staff on the registry page
    client.force_login(world.compliance)
    assert client.get(_page(world, "consents/")).status_code == 200

    # when they record a consent from the form
    response = client.post(_page(world, "consents/"), {
        "performer": "Mara Quell", "guild": "sag_aftra", "consent_type": "digital_alteration",
        "scope": "Lip movement for one re-recorded line", "kinds": ["performance_alteration"],
        "shots": [world.shot.name], "signed_by": "Mara Quell", "signer_capacity": "performer",
        "signed_at": "2026-01-05T10:00", "document_sha256": "d" * 64}, follow=True)

    # then it is listed in force, and can be revoked with a reason
    consent = Consent.objects.get()
    page = response.content.decode()
    assert "Consent from Mara Quell recorded." in page and "in force" in page and "d" * 64 in page
    page = client.post(_page(world, f"consents/{consent.pk}/revoke/"), {"reason": "Withdrawn"},
                       follow=True).content.decode()
    assert "revoked" in page and "Withdrawn" in page


def test_a_consent_form_with_gaps_is_refused_and_names_them(client, world):
    client.force_login(world.compliance)
    response = client.post(_page(world, "consents/"), {"performer": "Mara Quell", "consent_type": "digital_alteration",
                                                        "signed_at": "2026-01-05T10:00"})
    page = response.content.decode()
    assert response.status_code == 400 and not Consent.objects.exists()
    assert "Name the shots the consent covers." in page and "Copy the written scope" in page


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.EDITOR, Role.VIEWER])
def test_the_consent_registry_is_for_producers_and_compliance_only(client, world, role):
    consent_for(world)
    client.force_login(member(world.production, role))
    assert client.get(_page(world, "consents/")).status_code == 403


@pytest.mark.parametrize("path", ["fixes/", "fixes/new/", "fixes/{fix}/", "approvals/", "consents/",
                                  "proposals/{proposal}/preview"])
def test_an_outsider_gets_404_on_every_page(client, world, tmp_path, path):
    proposal = world.propose(world.removal(), tmp_path)
    client.force_login(member(ProductionFactory(), Role.PRODUCER))
    url = _page(world, path.format(fix=proposal.request_id, proposal=proposal.pk))
    assert client.get(url).status_code == 404


@pytest.mark.parametrize("path, capability_role", [
    ("fixes/new/", Role.VIEWER), ("fixes/{fix}/cancel/", Role.EDITOR), ("proposals/{proposal}/decide/", Role.VIEWER),
    ("proposals/{proposal}/promote/", Role.COMPLIANCE), ("consents/", Role.SUPERVISOR),
])
def test_a_role_without_the_right_is_refused_on_every_form(client, world, tmp_path, path, capability_role):
    proposal = world.propose(world.removal(), tmp_path)
    client.force_login(member(world.production, capability_role))
    url = _page(world, path.format(fix=proposal.request_id, proposal=proposal.pk))
    assert client.post(url, {"outcome": "reject", "reason": "x"}).status_code == 403
    assert proposal.__class__.objects.get(pk=proposal.pk).state == ProposalState.PENDING


def test_a_region_dragged_on_the_poster_becomes_the_mask(client, world):
    # given a supervisor on the request form, with no drawing chosen
    from answerprint.review.models import Annotation

    client.force_login(world.supervisor)

    # when they drag a rectangle over the top-right of the picture and queue a removal
    response = client.post(_page(world, "fixes/new/"), {
        "source_version": world.plate.pk, "kind": "object_removal", "region": "0.6000,0.0000,0.9000,0.3000",
        "frame_in": "1003", "params": '{"iterations": 0}', "reason": "Boom top right"})

    # then the region is kept as a drawing on the shot, and the request's matte is that rectangle
    assert response.status_code == 302, response.content.decode()[-2000:]
    fix = FixRequest.objects.get()
    drawing = Annotation.objects.get(pk=fix.mask_annotation_id)
    assert drawing.shape == "rectangle" and drawing.frame == 2 and drawing.author == world.supervisor
    assert fix.mask_shape["points"] == [[0.6, 0.0, 1.0], [0.9, 0.3, 1.0]] and fix.mask_sha256

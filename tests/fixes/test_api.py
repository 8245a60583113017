import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from answerprint.audit.models import AuditEvent
from answerprint.fixes import services
from answerprint.fixes.models import FixRequest, ProposalState
from answerprint.fixes.signatures import proposal_record_hash
from answerprint.media.models import Version
from tests.factories import PASSWORD, ShotFactory, authenticator_code
from tests.fixes.conftest import consent_for, ready_version


def _api(world, path=""):
    return f"/api/productions/{world.production.code}/{path}"


def test_a_supervisor_requests_a_removal_through_the_api(client, world):
    # given a supervisor with a drawn region over the boom
    client.force_login(world.supervisor)

    # when they post the request
    response = client.post(_api(world, "fixes/"), {
        "source_version": world.plate.pk, "kind": "object_removal", "mask_annotation": str(world.boom.pk),
        "frame_in": 0, "frame_out": 11, "params": {"iterations": 10}, "reason": "Boom in the top left",
    }, content_type="application/json")

    # then it is created from the API, with its job queued on the gpu queue
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["kind"] == "object_removal" and body["state"] == "queued" and body["category"] == "technical"
    assert body["job"]["state"] == "queued" and body["job"]["queue"] == "gpu"
    assert body["frames"] == {"in": 0, "out": 11, "count": 12, "first_shot_frame": 1001, "last_shot_frame": 1012}
    assert FixRequest.objects.get().origin == "api"


def test_bad_input_gets_a_400_naming_the_field(client, world):
    client.force_login(world.supervisor)
    response = client.post(_api(world, "fixes/"), {
        "source_version": world.plate.pk, "kind": "object_removal", "mask_annotation": str(world.boom.pk),
        "params": {"iterations": "many"}, "reason": "Boom"}, content_type="application/json")
    assert response.status_code == 400 and "iterations is a number" in str(response.json()["params"])
    response = client.post(_api(world, "fixes/"), {"source_version": 999999, "kind": "object_removal",
                                                   "reason": "Boom"}, content_type="application/json")
    assert response.status_code == 400 and "No version 999999" in str(response.json())
    assert not FixRequest.objects.exists()


def test_a_version_of_another_production_reads_as_not_found(client, world):
    elsewhere = ready_version(ShotFactory())
    client.force_login(world.supervisor)
    response = client.post(_api(world, "fixes/"), {"source_version": elsewhere.pk, "kind": "exposure",
                                                   "reason": "Too dark"}, content_type="application/json")
    assert response.status_code == 400 and "No version" in str(response.json())


def test_a_likeness_fix_without_consent_is_refused_through_the_api(client, world):
    client.force_login(world.supervisor)
    response = client.post(_api(world, "fixes/"), {
        "source_version": world.plate.pk, "kind": "performance_alteration", "mask_annotation": str(world.boom.pk),
        "performer": "Mara Quell", "reason": "Re-recorded line"}, content_type="application/json")
    assert response.status_code == 400
    assert "No consent from Mara Quell is on file" in response.json()["consent"][0]


def test_the_kind_list_says_which_kinds_need_consent_here(client, world):
    services.update_fix_policy(actor=world.producer, production=world.production,
                               consent_kinds=["background_replacement"], reason="Lead's contract")
    client.force_login(world.viewer)
    kinds = {k["name"]: k for k in client.get(_api(world, "fix-kinds/")).json()}
    assert kinds["performance_alteration"]["needs_consent"] and not kinds["performance_alteration"]["available"]
    assert kinds["background_replacement"]["needs_consent"] and not kinds["object_removal"]["needs_consent"]
    assert kinds["colour_match"]["needs_reference"] and kinds["object_removal"]["params"]["iterations"]["maximum"] == 5000


def test_a_producer_approves_with_a_signature_through_the_api(client, world, tmp_path):
    # given a proposal for a supervisor's request
    proposal = world.propose(world.removal(), tmp_path)
    client.force_login(world.producer)
    seen = client.get(_api(world, f"proposals/{proposal.pk}/")).json()

    # when the producer signs what they saw, re-entering their password
    response = client.post(_api(world, f"proposals/{proposal.pk}/decisions/"), {
        "outcome": "approve", "meaning": "approval", "password": PASSWORD, "record_hash": seen["record_hash"],
        "second_factor": authenticator_code(world.producer),
        "reason": "Clean"}, content_type="application/json")

    # then the signature shows printed name, time and meaning, bound to the record
    assert response.status_code == 201, response.content
    signed = response.json()
    assert signed["printed_name"] == world.producer.printed_name and signed["meaning"] == "approval"
    assert signed["record_hash"] == seen["record_hash"] and signed["final"]
    assert signed["manifestation"].startswith(f"{world.producer.printed_name} — Approval — ")
    after = client.get(_api(world, f"proposals/{proposal.pk}/")).json()
    assert after["state"] == "approved" and after["decisions"][0]["signature_hash"] == signed["signature_hash"]


def test_a_wrong_password_through_the_api_is_a_400_and_signs_nothing(client, world, tmp_path):
    proposal = world.propose(world.removal(), tmp_path)
    client.force_login(world.producer)
    response = client.post(_api(world, f"proposals/{proposal.pk}/decisions/"), {
        "outcome": "approve", "meaning": "approval", "password": "nope",
        "record_hash": proposal_record_hash(proposal)}, content_type="application/json")
    assert response.status_code == 400 and "password is not correct" in response.json()["password"][0]
    proposal.refresh_from_db()
    assert proposal.state == ProposalState.PENDING


def test_deciding_a_settled_proposal_is_a_409_naming_who_decided(client, world, tmp_path):
    proposal = world.propose(world.removal(), tmp_path)
    world.sign(proposal, world.producer)
    client.force_login(world.second_producer)
    response = client.post(_api(world, f"proposals/{proposal.pk}/decisions/"), {
        "outcome": "reject", "reason": "Too soft"}, content_type="application/json")
    assert response.status_code == 409
    assert world.producer.printed_name in response.json()["detail"] and response.json()["state"] == "approved"


def test_request_changes_through_the_api_makes_a_follow_up(client, world, tmp_path):
    proposal = world.propose(world.removal(), tmp_path)
    client.force_login(world.producer)
    response = client.post(_api(world, f"proposals/{proposal.pk}/decisions/"), {
        "outcome": "request_changes", "reason": "Grow the mask", "follow_up": {"params": {"grow": 6}}},
        content_type="application/json")
    assert response.status_code == 201, response.content
    follow_up = FixRequest.objects.get(pk=response.json()["follow_up"])
    assert follow_up.follow_up_of == proposal.request and follow_up.params["grow"] == 6 and follow_up.origin == "api"


def test_only_an_approved_proposal_is_promoted_through_the_api(client, world, tmp_path):
    # given a pending proposal
    proposal = world.propose(world.removal(), tmp_path)
    client.force_login(world.editor)
    url = _api(world, f"proposals/{proposal.pk}/promote/")

    # when an editor tries to promote it before approval, then it is refused
    refused = client.post(url, {}, content_type="application/json")
    assert refused.status_code == 400 and "not approved" in str(refused.json())
    assert not Version.objects.filter(kind="delivery").exists()

    # when it has been approved, then it is promoted once, and only once
    world.sign(proposal, world.producer)
    promoted = client.post(url, {"reason": "Into the conform"}, content_type="application/json")
    assert promoted.status_code == 201, promoted.content
    assert Version.objects.get(kind="delivery").parent == proposal.version
    assert client.post(url, {}, content_type="application/json").status_code == 409


def test_the_approvals_queue_lists_what_waits_on_me_oldest_first(client, world, tmp_path,
                                                                  django_assert_max_num_queries):
    # given three proposals: two for supervisors' requests, one the producer asked for themselves
    older = world.propose(world.removal(reason="Boom, first pass"), tmp_path)
    newer = world.propose(world.removal(reason="Boom, second pass"), tmp_path)
    world.propose(world.removal(actor=world.producer, reason="Mine"), tmp_path)
    client.force_login(world.producer)

    # when the producer opens the queue, the number of queries does not grow with the list
    with CaptureQueriesContext(connection) as few:
        client.get(_api(world, "approvals/"))
    for _ in range(3):
        world.propose(world.removal(reason="More"), tmp_path)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(_api(world, "approvals/"))

    # then it lists what they can sign, oldest first, with who asked and why, not their own request
    items = response.json()
    assert [item["id"] for item in items[:2]] == [older.pk, newer.pk] and len(items) == 5
    assert items[0]["requested_by"] == world.supervisor.printed_name and items[0]["reason"] == "Boom, first pass"
    assert items[0]["signing_as"] == "approval" and items[0]["kind"] == "object_removal"
    assert all(item["reason"] != "Mine" for item in items)


def test_a_signed_proposal_leaves_the_signers_queue(client, world, tmp_path):
    proposal = world.propose(world.removal(), tmp_path)
    services.update_fix_policy(actor=world.producer, production=world.production, required_approvals=2,
                               approver_roles=["producer"], reason="Two producers on this show")
    world.sign(proposal, world.producer)
    client.force_login(world.producer)
    assert client.get(_api(world, "approvals/")).json() == []
    client.force_login(world.second_producer)
    assert [p["id"] for p in client.get(_api(world, "approvals/")).json()] == [proposal.pk]


def test_compliance_records_and_revokes_a_consent_through_the_api(client, world):
    client.force_login(world.compliance)
    created = client.post(_api(world, "consents/"), {
        "performer": "Mara Quell", "guild": "sag_aftra", "consent_type": "digital_alteration",
        "scope": "Lip movement for one re-recorded line", "kinds": ["performance_alteration"],
        "shots": [world.shot.name], "signed_by": "J. Agent", "signer_capacity": "representative",
        "signed_at": "2026-01-05T10:00:00Z", "document_sha256": "C" * 64}, content_type="application/json")
    assert created.status_code == 201, created.content
    consent = created.json()
    assert consent["status"] == "in force" and consent["shots"] == [world.shot.name]
    assert consent["document_sha256"] == "c" * 64 and consent["signer_capacity"] == "representative"

    revoked = client.post(_api(world, f"consents/{consent['id']}/revoke/"), {"reason": "Withdrawn by letter"},
                          content_type="application/json")
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    assert [e.action for e in AuditEvent.objects.filter(action__startswith="consent.")] == [
        "consent.recorded", "consent.revoked"]


def test_a_consent_document_upload_is_stored_and_hashed(client, world):
    import hashlib

    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(world.compliance)
    document = b"%PDF-1.4 signed consent"
    response = client.post(_api(world, "consents/"), {
        "performer": "Mara Quell", "consent_type": "digital_alteration", "scope": "Lip sync",
        "kinds": ["performance_alteration"], "shots": [world.shot.name], "signed_by": "Mara Quell",
        "signed_at": "2026-01-05T10:00:00Z", "document": SimpleUploadedFile("consent.pdf", document)})
    assert response.status_code == 201, response.content
    assert response.json()["document_sha256"] == hashlib.sha256(document).hexdigest()
    assert response.json()["has_document"]


def test_the_consent_register_is_not_for_supervisors(client, world):
    consent_for(world)
    client.force_login(world.supervisor)
    assert client.get(_api(world, "consents/")).status_code == 403


def test_the_producer_changes_the_policy_and_bad_values_are_refused(client, world):
    client.force_login(world.producer)
    changed = client.patch(_api(world, "fix-policy/"), {"required_recommendations": 1, "reason": "Sup first"},
                           content_type="application/json")
    assert changed.status_code == 200 and changed.json()["required_recommendations"] == 1
    bad = client.patch(_api(world, "fix-policy/"), {"approver_roles": ["viewer"], "reason": "Try"}, content_type="application/json")
    assert bad.status_code == 400 and "may not decide on fixes" in str(bad.json())
    event = AuditEvent.objects.get(action="fix_policy.changed")
    assert event.before["required_recommendations"] == 0 and event.after["required_recommendations"] == 1


@pytest.mark.parametrize("method, path, body", [
    ("post", "fixes/", {}),
    ("post", "fixes/{fix}/cancel/", {}),
    ("post", "proposals/{proposal}/decisions/", {"outcome": "reject", "reason": "x"}),
    ("get", "consents/", None),
    ("patch", "fix-policy/", {}),
])
def test_a_viewer_is_refused_every_write(client, world, tmp_path, method, path, body):
    proposal = world.propose(world.removal(), tmp_path)
    client.force_login(world.viewer)
    url = _api(world, path.format(fix=proposal.request_id, proposal=proposal.pk))
    response = getattr(client, method)(url, body, content_type="application/json") if body is not None \
        else getattr(client, method)(url)
    assert response.status_code == 403


@pytest.mark.parametrize("path", ["fixes/", "fixes/{fix}/", "proposals/{proposal}/", "approvals/", "fix-kinds/",
                                  "fix-policy/"])
def test_an_outsider_gets_404(client, world, tmp_path, path):
    from answerprint.accounts.models import Role
    from tests.factories import ProductionFactory, member

    proposal = world.propose(world.removal(), tmp_path)
    client.force_login(member(ProductionFactory(), Role.PRODUCER))
    assert client.get(_api(world, path.format(fix=proposal.request_id, proposal=proposal.pk))).status_code == 404


def test_the_request_list_costs_the_same_queries_however_long(client, world, tmp_path):
    # given one request with a proposal
    world.propose(world.removal(), tmp_path)
    client.force_login(world.viewer)
    with CaptureQueriesContext(connection) as one:
        assert len(client.get(_api(world, "fixes/")).json()) == 1

    # when four more arrive, two of them with proposals
    world.propose(world.removal(reason="b"), tmp_path)
    world.propose(world.removal(reason="c"), tmp_path)
    world.removal(reason="d")
    world.removal(reason="e")
    with CaptureQueriesContext(connection) as five:
        body = client.get(_api(world, "fixes/")).json()

    # then the list holds all five, newest first, in the same number of queries
    assert [item["reason"] for item in body] == ["e", "d", "c", "b", "Boom dips into frame"]
    assert body[2]["proposal"]["state"] == "pending" and body[0]["job"]["state"] == "queued"
    assert len(five.captured_queries) == len(one.captured_queries)


def test_the_same_op_twice_makes_one_request(client, world):
    client.force_login(world.supervisor)
    body = {"source_version": world.plate.pk, "kind": "exposure", "reason": "Dark", "op": "tool-run-17"}
    first = client.post(_api(world, "fixes/"), body, content_type="application/json")
    again = client.post(_api(world, "fixes/"), body, content_type="application/json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"] and FixRequest.objects.count() == 1

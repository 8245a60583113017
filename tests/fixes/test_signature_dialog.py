"""The signature dialog says what is signed, what the signature means and does, keeps what was typed
when it is refused, and is not offered to those the policy does not let sign."""
import pytest

from answerprint.fixes.models import ATTESTATIONS, Decision, FixPolicy
from answerprint.fixes.signatures import proposal_record_hash
from tests.fixes.test_pages import _page, _ready

pytestmark = pytest.mark.django_db


def test_the_dialog_states_what_is_signed_the_attestation_and_its_effect(client, world, tmp_path):
    # given a ready proposal for frames 1004-1009 of the plate
    proposal = _ready(world.propose(world.removal(frame_in=3, frame_out=8), tmp_path))
    client.force_login(world.producer)

    # when the producer opens the fix page
    page = client.get(_page(world, f"fixes/{proposal.request_id}/")).content.decode()

    # then the dialog names production, shot, kind, frames and the proposal's hashes, the meaning's
    # attestation and what one signature does under the default policy (one producer approves)
    dialog = page[page.index('<dialog class="sign" id="sign-'):page.index("</dialog>")]
    for fact in (world.production.title, world.shot.name, "Rig / object removal", "1004–1009", "(6 frames",
                 proposal.media_sha256, proposal_record_hash(proposal), ATTESTATIONS["approval"],
                 "1 of 1 approval — approves the fix and allows delivery"):
        assert fact in dialog, fact


def test_under_a_quorum_of_two_the_first_signature_says_one_more_is_needed(client, world, tmp_path):
    FixPolicy.objects.create(production=world.production, approver_roles=["producer"], required_approvals=2)
    proposal = _ready(world.propose(world.removal(), tmp_path))
    client.force_login(world.producer)
    page = client.get(_page(world, f"fixes/{proposal.request_id}/")).content.decode()
    assert "1 of 2 approvals — 1 more needed before delivery" in page


def test_a_wrong_password_reopens_the_dialog_with_the_note_kept(client, world, tmp_path):
    # given a producer signing with a note
    proposal = _ready(world.propose(world.removal(), tmp_path))
    client.force_login(world.producer)

    # when the password is wrong
    response = client.post(_page(world, f"proposals/{proposal.pk}/decide/"), {
        "outcome": "approve", "meaning": "responsibility", "password": "wrong",
        "record_hash": proposal_record_hash(proposal), "reason": "Checked against the plate at 1006"})

    # then nothing is signed, and the page comes back with the dialog open, the error in it, the
    # note and meaning as typed, and an empty password field
    page = response.content.decode()
    assert response.status_code == 400 and not Decision.objects.exists()
    dialog = page[page.index('<dialog class="sign" id="sign-'):page.index("</dialog>")]
    assert "data-open-on-load" in dialog.split(">")[0]
    assert "The password is not correct: nothing was signed." in dialog
    assert 'value="Checked against the plate at 1006"' in dialog
    assert '<option value="responsibility"' in dialog and 'data-effect' in dialog
    assert 'value="responsibility" data-attestation' in dialog
    assert dialog.count("selected") == 1 and 'responsibility" data-attestation="' in dialog
    assert 'name="password" type="password" autocomplete="current-password" required>' in dialog


def test_the_requester_gets_no_sign_button_and_the_reason_on_hover(client, world, tmp_path):
    # given a producer who asked for the fix themselves
    proposal = _ready(world.propose(world.removal(actor=world.producer), tmp_path))
    client.force_login(world.producer)

    # when they open it
    page = client.get(_page(world, f"fixes/{proposal.request_id}/")).content.decode()

    # then there is no Sign button nor password field, and the reason is given
    assert "data-open-dialog=\"sign-" not in page and 'type="password"' not in page
    assert 'title="You asked for this fix: under this production&#x27;s policy someone else must sign it."' in page


def test_a_supervisor_is_offered_only_a_recommendation_where_the_policy_asks_for_one(client, world, tmp_path):
    FixPolicy.objects.create(production=world.production, approver_roles=["producer"],
                             recommender_roles=["supervisor"], required_recommendations=1)
    proposal = _ready(world.propose(world.removal(actor=world.second_supervisor), tmp_path))
    client.force_login(world.supervisor)
    page = client.get(_page(world, f"fixes/{proposal.request_id}/")).content.decode()
    dialog = page[page.index('<dialog class="sign" id="sign-'):page.index("</dialog>")]
    assert '<option value="review"' in dialog and '<option value="approval"' not in dialog
    assert "1 of 1 recommendation — then it waits for approval" in dialog

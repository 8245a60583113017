"""A colour match that starts from the editor's CDL: the form's checkbox fills the parameter from
the shot itself, and a CDL that is malformed or not the shot's own is refused."""
import pytest
from django.core.exceptions import ValidationError

from answerprint.audit.models import AuditEvent
from answerprint.fixes import services
from answerprint.fixes.models import FixRequest
from tests.factories import ShotFactory
from tests.fixes.conftest import ready_version

CDL = {"slope": [1.1, 0.95, 0.9], "offset": [0.02, 0.0, -0.01], "power": [0.9, 1.0, 1.1], "saturation": 0.85}


@pytest.fixture
def reference(world):
    shot = ShotFactory(production=world.production, name="SC010_SH010")
    ready_version(shot)
    return shot


def _page(world, path):
    return f"/p/{world.production.code}/{path}"


def test_the_form_offers_the_cdl_and_puts_the_shots_own_cdl_into_the_request(client, world, reference):
    # given a shot whose timeline import brought the editor's CDL, and another shot with a different one
    world.shot.cdl = CDL
    world.shot.save(update_fields=["cdl"])
    reference.cdl = {**CDL, "saturation": 0.2}
    reference.save(update_fields=["cdl"])
    client.force_login(world.supervisor)
    form = client.get(_page(world, f"fixes/new/?version={world.plate.pk}")).content.decode()
    assert "Start from the editor&#x27;s CDL" in form or "Start from the editor's CDL" in form

    # when a colour match is queued with the box ticked
    response = client.post(_page(world, "fixes/new/"), {
        "source_version": world.plate.pk, "kind": "colour_match", "reference_shot": reference.name,
        "start_from_cdl": "on", "params": "", "reason": "Start from the cut's grade"})

    # then the request's parameters (and so its audit event and model card) carry this shot's CDL
    fix = FixRequest.objects.get()
    assert response.status_code == 302
    assert fix.params["start_cdl"] == CDL
    event = AuditEvent.objects.get(action="fix_request.created", target_id=str(fix.pk))
    assert event.after["params"]["start_cdl"] == CDL


def test_the_box_is_not_offered_for_a_shot_without_a_cdl(client, world):
    # given a shot with no CDL from the timeline
    client.force_login(world.supervisor)
    # when the form opens / then there is nothing to start from
    page = client.get(_page(world, f"fixes/new/?version={world.plate.pk}")).content.decode()
    assert "Start from the editor" not in page


def test_a_malformed_cdl_on_the_shot_is_refused_and_nothing_is_queued(world, reference):
    # given a shot whose stored CDL lacks a channel
    world.shot.cdl = {**CDL, "power": [1.0, 1.0]}
    world.shot.save(update_fields=["cdl"])
    # when a colour match asks to start from it
    with pytest.raises(ValidationError, match="not a usable ASC CDL"):
        services.request_fix(actor=world.supervisor, source_version=world.plate, kind="colour_match",
                             reference_shot=reference, reason="x", start_from_cdl=True)
    # then nothing was queued
    assert not FixRequest.objects.exists()


def test_a_cdl_sent_by_the_client_that_is_not_the_shots_own_is_refused(world, reference):
    # given a shot with the editor's CDL
    world.shot.cdl = CDL
    world.shot.save(update_fields=["cdl"])
    # when a client sends another grade as the parameter / then it is refused
    with pytest.raises(ValidationError, match="own CDL"):
        services.request_fix(actor=world.supervisor, source_version=world.plate, kind="colour_match",
                             reference_shot=reference, reason="x", params={"start_cdl": {**CDL, "saturation": 0}})


def test_asking_for_the_cdl_of_a_shot_without_one_says_so(world, reference):
    # given a shot without a CDL / when the box is ticked anyway / then it is refused by name
    with pytest.raises(ValidationError, match="has no CDL"):
        services.request_fix(actor=world.supervisor, source_version=world.plate, kind="colour_match",
                             reference_shot=reference, reason="x", start_from_cdl=True)

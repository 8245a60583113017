import io

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from PIL import Image

from answerprint.audit.models import AuditEvent
from answerprint.fixes.models import FixRequest, Job, JobState, RequestState
from answerprint.fixes import services
from tests.factories import ShotFactory
from tests.fixes.conftest import consent_for, polygon, ready_version


def test_a_removal_request_stores_its_mask_and_queues_one_job(world, django_capture_on_commit_callbacks,
                                                              monkeypatch):
    # given a supervisor's polygon over the boom, and a queue that records what it is sent
    sent = []
    monkeypatch.setattr("answerprint.fixes.services._enqueue_job", sent.append)

    # when they ask for its removal
    with django_capture_on_commit_callbacks(execute=True):
        fix = world.removal(params={"iterations": 50, "grow": 4}, frame_in=2, frame_out=9)

    # then the request keeps the parameters (defaults filled in), the frames and the shape as drawn
    assert fix.state == RequestState.QUEUED and fix.category == "technical"
    assert fix.params == {"grow": 4, "flow_preset": "medium", "max_distance": 0, "iterations": 50, "smooth": True}
    assert (fix.frame_in, fix.frame_out) == (2, 9)
    assert fix.mask_shape["shape"] == "polygon" and fix.mask_shape["annotation"] == str(world.boom.pk)
    # and the matte is drawn at the plate's own size, white inside the polygon only
    with default_storage.open(fix.mask.name) as stored:
        matte = Image.open(io.BytesIO(stored.read()))
    assert matte.size == (64, 36)
    assert matte.getpixel((15, 10)) == 255 and matte.getpixel((50, 30)) == 0
    # and exactly one job went to the queue, after commit
    job = Job.objects.get(request=fix)
    assert job.state == JobState.QUEUED and job.queue == "gpu" and sent == [job.pk]
    assert list(AuditEvent.objects.values_list("action", flat=True)) == ["fix_request.created", "fix_job.queued"]


@pytest.mark.parametrize("params, message", [
    ({"iterations": -1}, "iterations must be between 0 and 5000"),
    ({"iterations": 2.5}, "iterations is a whole number"),
    ({"flow_preset": "slow"}, "flow_preset is one of ultrafast, fast, medium"),
    ({"strength": 1}, "takes no parameter strength"),
    ({"grow": True}, "grow is a number"),
])
def test_parameters_are_checked_per_kind(world, params, message):
    # when a request carries a parameter its kind does not take as given
    with pytest.raises(ValidationError) as error:
        world.removal(params=params)

    # then it is refused, naming the parameter, and nothing is stored
    assert message in str(error.value)
    assert not FixRequest.objects.exists()


def test_a_removal_without_a_mask_is_refused(world):
    with pytest.raises(ValidationError, match="needs a mask"):
        world.removal(mask_annotation=None)


def test_a_text_note_cannot_be_a_mask(world):
    note = polygon(world.plate, world.supervisor, points=((0.2, 0.2),), shape="text")
    with pytest.raises(ValidationError, match="cannot be a mask"):
        world.removal(mask_annotation=note)


def test_a_drawing_on_another_shot_cannot_be_the_mask(world):
    elsewhere = ready_version(ShotFactory(production=world.production, name="SC099_SH010"))
    with pytest.raises(ValidationError, match="drawing on this shot"):
        world.removal(mask_annotation=polygon(elsewhere, world.supervisor))


def test_a_frame_range_outside_the_source_is_refused(world):
    with pytest.raises(ValidationError, match="outside the source"):
        world.removal(frame_in=3, frame_out=12)
    with pytest.raises(ValidationError, match="ends before it starts"):
        world.removal(frame_in=5, frame_out=4)


def test_a_request_needs_a_reason(world):
    with pytest.raises(ValidationError, match="Say why"):
        world.removal(reason="  ")


def test_a_plate_still_ingesting_cannot_be_fixed(world):
    world.plate.asset.status = "transcoding"
    world.plate.asset.save()
    with pytest.raises(ValidationError, match="no ingested picture yet"):
        world.removal()


def test_colour_match_takes_the_reference_shots_latest_plate(world):
    # given a reference shot with two plates
    reference = ShotFactory(production=world.production, name="SC010_SH010")
    ready_version(reference)
    latest = ready_version(reference)

    # when a colour match to that shot is requested
    fix = services.request_fix(actor=world.supervisor, source_version=world.plate, kind="colour_match",
                               reference_shot=reference, reason="Graded warm unlike SH010")

    # then the request pins the reference's latest plate, and no mask was needed
    assert fix.reference_version == latest and fix.mask.name == "" and fix.params["size"] == 33


def test_colour_match_without_a_reference_or_to_itself_is_refused(world):
    with pytest.raises(ValidationError, match="needs a reference shot"):
        services.request_fix(actor=world.supervisor, source_version=world.plate, kind="colour_match", reason="x")
    with pytest.raises(ValidationError, match="not the shot itself"):
        services.request_fix(actor=world.supervisor, source_version=world.plate, kind="colour_match",
                             reference_shot=world.shot, reason="x")


def test_background_replacement_needs_a_plate_of_this_production(world):
    other = ready_version(ShotFactory(name="BG_OTHER"))
    with pytest.raises(ValidationError, match="needs a replacement plate"):
        services.request_fix(actor=world.supervisor, source_version=world.plate, kind="background_replacement",
                             reason="New sky")
    with pytest.raises(ValidationError, match="must belong to this production"):
        services.request_fix(actor=world.supervisor, source_version=world.plate, kind="background_replacement",
                             replacement_version=other, reason="New sky")


def test_an_unknown_kind_is_refused_with_the_known_ones(world):
    with pytest.raises(ValidationError, match="Unknown fix kind 'deepfake'; use one of object_removal"):
        world.removal(kind="deepfake")


@pytest.mark.parametrize("role", ["editor", "compliance", "viewer"])
def test_roles_without_the_right_cannot_request_a_fix(world, role):
    with pytest.raises(PermissionDenied):
        world.removal(actor=getattr(world, role))


def test_altering_a_performance_without_consent_is_refused_and_audited(world):
    # when a supervisor asks to alter a performer's performance, with no consent on file
    with pytest.raises(ValidationError) as error:
        world.removal(kind="performance_alteration", performer="Mara Quell", params={})

    # then the refusal names the missing consent, nothing is queued, and the attempt is in the log
    assert "No consent from Mara Quell is on file" in str(error.value)
    assert not FixRequest.objects.exists() and not Job.objects.exists()
    refused = AuditEvent.objects.get(action="fix_request.refused")
    assert refused.actor == world.supervisor and "No consent from Mara Quell" in refused.reason


def test_a_likeness_kind_must_name_the_performer(world):
    with pytest.raises(ValidationError, match="name the performer"):
        world.removal(kind="performance_alteration", params={})


def test_the_consent_check_comes_before_the_missing_model(world):
    # given a consent in force that covers the alteration
    consent_for(world)

    # when the alteration is requested
    with pytest.raises(ValidationError) as error:
        world.removal(kind="performance_alteration", performer="  mara   QUELL ", params={})

    # then consent passes and the platform refuses for want of a model, saying so
    assert error.value.error_dict.keys() == {"kind"}
    assert "No model for performance alteration" in str(error.value)
    assert AuditEvent.objects.filter(action="fix_request.refused").get().after["consent"] is not None


@pytest.mark.parametrize("change, expected", [
    ({"kinds": ["digital_replica"], "consent_type": "independent_replica"}, "is not of a type that allows"),
    ({"shots": "other"}, "does not cover shot SC010_SH030"),
    ({"expires_at": "past"}, "expired on"),
])
def test_a_consent_that_does_not_cover_the_use_is_named(world, change, expected):
    from datetime import timedelta

    from django.utils import timezone

    # given a consent that falls short in one way
    options = dict(change)
    if options.get("shots") == "other":
        options["shots"] = [ShotFactory(production=world.production, name="SC050_SH010")]
    if options.get("expires_at") == "past":
        options["signed_at"] = timezone.now() - timedelta(days=10)
        options["expires_at"] = timezone.now() - timedelta(days=1)
    consent_for(world, **options)

    # when the alteration is requested, then the refusal says how the consent falls short
    with pytest.raises(ValidationError, match=expected):
        world.removal(kind="performance_alteration", performer="Mara Quell", params={})


def test_a_production_can_put_a_technical_kind_under_consent(world):
    # given a production whose policy puts removal on performer shots under consent
    services.update_fix_policy(actor=world.producer, production=world.production,
                               consent_kinds=["object_removal"], reason="Lead's contract")

    # when a removal is requested without naming a consenting performer, it is refused
    with pytest.raises(ValidationError, match="name the performer"):
        world.removal()

    # and once her consent covers removal on this shot, the same request is queued
    consent_for(world, kinds=["object_removal"])
    assert world.removal(performer="Mara Quell").consent is not None


def test_cancelling_stops_the_job_and_the_request(world):
    # given a queued removal
    fix = world.removal()

    # when the requester cancels it
    services.cancel_fix_request(actor=world.supervisor, fix=fix, reason="Wrong shot")

    # then the job and request are cancelled, a worker that picks it up finds nothing to run
    fix.refresh_from_db()
    job = fix.jobs.get()
    assert fix.state == RequestState.CANCELLED and job.state == JobState.CANCELLED
    assert services.start_job(job.pk, worker="w1") is None
    assert list(AuditEvent.objects.filter(action__endswith="cancelled").values_list("action", flat=True)) == [
        "fix_job.cancelled", "fix_request.cancelled"]


def test_exposure_takes_a_reference_shot_only_when_given(world):
    reference = ShotFactory(production=world.production, name="SC010_SH010")
    latest = ready_version(reference)
    alone = services.request_fix(actor=world.supervisor, source_version=world.plate, kind="exposure",
                                 reason="Underexposed")
    matched = services.request_fix(actor=world.supervisor, source_version=world.plate, kind="exposure",
                                   reference_shot=reference, params={"target": "reference"}, reason="Match SH010")
    assert alone.reference_version is None and matched.reference_version == latest


def test_an_employment_replica_takes_effect_48_hours_after_notice(world):
    from datetime import timedelta

    from django.utils import timezone

    # given a replica consent signed a week ago, but notice given only ten hours ago
    with pytest.raises(ValidationError, match="needs the time notice was given"):
        consent_for(world, consent_type="employment_replica", kinds=["digital_replica"])
    consent = consent_for(world, consent_type="employment_replica", kinds=["digital_replica"],
                          signed_at=timezone.now() - timedelta(days=7),
                          notice_given_at=timezone.now() - timedelta(hours=10))

    # then it is not in force yet, and a replica request says when it will be
    assert consent.status == "pending"
    with pytest.raises(ValidationError, match="not in force: it takes effect on"):
        world.removal(kind="digital_replica", performer="Mara Quell", params={})

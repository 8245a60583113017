import threading
import uuid

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.utils import timezone

from answerprint.accounts.models import Role
from answerprint.audit.models import AuditEvent
from answerprint.audit.selectors import verify_chain
from answerprint.media.models import MediaAsset
from answerprint.review import services
from answerprint.review.models import Room, RoomEvent, RoomPresence
from tests.factories import ProductionFactory, ShotFactory, VersionFactory, member


@pytest.fixture
def setup(db):
    production = ProductionFactory()
    shot = ShotFactory(production=production, first_frame=1001, last_frame=1048)
    return {"production": production, "version": VersionFactory(shot=shot),
            "producer": member(production, Role.PRODUCER), "supervisor": member(production, Role.SUPERVISOR)}


def draw(actor, version, **fields):
    return services.create_annotation(actor=actor, version=version, **{
        "frame": 0, "shape": "line", "points": [[0, 0], [1, 1]], **fields})


def test_a_shape_is_stored_as_normalised_vectors_and_audited(setup):
    # when a supervisor draws a freehand stroke with two pressure-less points and an upper-case colour
    annotation_id = uuid.uuid4()
    applied = draw(setup["supervisor"], setup["version"], id=annotation_id, shape="stroke", frame=10, duration=4,
                   points=[[0.25, 0.5], [0.3, 0.55, 0.4]], color="#FF00AA", width=0.01)

    # then it keeps the client's id, points as [x, y, pressure], and an audit entry describing it
    annotation = applied.obj
    assert annotation.pk == annotation_id
    assert annotation.points == [[0.25, 0.5, 1.0], [0.3, 0.55, 0.4]]
    assert (annotation.frame, annotation.last_frame, annotation.color) == (10, 13, "#ff00aa")
    event = AuditEvent.objects.get(action="annotation.created")
    assert event.target_id == str(annotation_id) and event.after["points"] == annotation.points
    assert applied.event.sequence == 1 and applied.event.payload["id"] == str(annotation_id)


@pytest.mark.parametrize("fields, field", [
    ({"shape": "polygon", "points": [[0, 0], [1, 1]]}, "points"),
    ({"shape": "text", "points": [[0.1, 0.1]]}, "text"),
    ({"shape": "line", "text": "why"}, "text"),
    ({"points": [[0, 0], [1.2, 1]]}, "points"),
    ({"points": [[0, 0], [float("nan"), 1]]}, "points"),
    ({"width": 0}, "width"),
    ({"color": "red"}, "color"),
    ({"shape": "blob"}, "shape"),
])
def test_shapes_that_do_not_fit_their_kind_are_refused(setup, fields, field):
    # when a malformed shape is drawn, then it is refused naming the field, and nothing is stored
    with pytest.raises(ValidationError) as refused:
        draw(setup["supervisor"], setup["version"], **fields)
    assert field in refused.value.message_dict
    assert not RoomEvent.objects.exists()


def test_frames_count_from_the_shots_first_frame_and_stop_at_its_end(setup):
    version = setup["version"]
    # given a shot of frames 1001-1048: 48 frames, numbered 0-47 here

    # when drawing on its last frame, and past it
    draw(setup["supervisor"], version, frame=47)
    with pytest.raises(ValidationError, match="0 to 47"):
        draw(setup["supervisor"], version, frame=46, duration=3)

    # then a probed asset's frame count, when known, is what limits it
    MediaAsset.objects.create(version=version, original="x.mov", original_name="x.mov", frame_count=100)
    version.refresh_from_db()
    assert draw(setup["supervisor"], version, frame=99).obj.frame == 99


def test_editing_a_comment_keeps_the_earlier_text_and_audits_the_change(setup):
    # given a comment
    comment = services.create_comment(actor=setup["supervisor"], version=setup["version"], body="Too warm",
                                      frame=3).obj

    # when its author edits it twice
    services.edit_comment(actor=setup["supervisor"], comment=comment, body="Too warm on the left", reason="typo")
    services.edit_comment(actor=setup["supervisor"], comment=comment, body="Too cold on the left")

    # then both earlier texts are kept in order, and the audit log has before and after
    comment.refresh_from_db()
    assert comment.body == "Too cold on the left" and comment.revision == 3
    assert list(comment.revisions.values_list("revision", "body", "reason")) == [
        (1, "Too warm", "typo"), (2, "Too warm on the left", "")]
    edits = AuditEvent.objects.filter(action="comment.edited")
    assert [(e.before["body"], e.after["body"]) for e in edits] == [
        ("Too warm", "Too warm on the left"), ("Too warm on the left", "Too cold on the left")]
    assert verify_chain().ok


def test_deleting_a_comment_hides_it_but_keeps_its_text_for_the_record(setup):
    # given a comment
    comment = services.create_comment(actor=setup["supervisor"], version=setup["version"], body="Wrong shot").obj

    # when its author deletes it with a reason
    applied = services.delete_comment(actor=setup["supervisor"], comment=comment, reason="posted on wrong shot")

    # then rooms are told it is gone (with no text), while the row, the history and the audit keep the text
    assert applied.event.payload["deleted"] is True and applied.event.payload["body"] == ""
    comment.refresh_from_db()
    assert comment.deleted_at is not None and comment.body == "Wrong shot"
    assert comment.revisions.get().body == "Wrong shot"
    audit = AuditEvent.objects.get(action="comment.deleted")
    assert (audit.before["body"], audit.reason) == ("Wrong shot", "posted on wrong shot")


def test_only_the_author_changes_a_note_and_a_producer_may_delete_anyones(setup):
    # given a supervisor's drawing and comment
    annotation = draw(setup["supervisor"], setup["version"]).obj
    comment = services.create_comment(actor=setup["supervisor"], version=setup["version"], body="Check").obj
    other_supervisor = member(setup["production"], Role.SUPERVISOR)

    # when another supervisor tries to change them, then they are refused
    with pytest.raises(PermissionDenied):
        services.update_annotation(actor=other_supervisor, annotation=annotation, changes={"frame": 2})
    with pytest.raises(PermissionDenied):
        services.edit_comment(actor=other_supervisor, comment=comment, body="Mine now")
    with pytest.raises(PermissionDenied):
        services.delete_annotation(actor=other_supervisor, annotation=annotation)

    # and the producer may delete them
    services.delete_annotation(actor=setup["producer"], annotation=annotation, reason="duplicate")
    services.delete_comment(actor=setup["producer"], comment=comment, reason="duplicate")
    annotation.refresh_from_db()
    assert annotation.deleted_by == setup["producer"]


def test_mentions_name_only_members_of_the_production(setup):
    # given a member and someone from another production
    editor = member(setup["production"], Role.EDITOR, user__username="dana.e")
    stranger = member(ProductionFactory(), Role.PRODUCER, user__username="sam")

    # when a comment mentions both, plus an e-mail address
    comment = services.create_comment(actor=setup["supervisor"], version=setup["version"],
                                      body="@dana.e and @sam: see mail from x@example.com").obj

    # then only the member is mentioned
    assert list(comment.mentions.all()) == [editor]
    assert stranger not in comment.mentions.all()


def test_a_reply_to_a_reply_joins_the_thread_and_only_threads_resolve(setup):
    # given a thread with one reply
    root = services.create_comment(actor=setup["supervisor"], version=setup["version"], body="Edge halo", frame=5).obj
    reply = services.create_comment(actor=setup["producer"], version=setup["version"], body="Agreed",
                                    parent=root).obj

    # when someone replies to the reply, then it joins the thread
    nested = services.create_comment(actor=setup["supervisor"], version=setup["version"], body="Fixing",
                                     parent=reply).obj
    assert nested.parent == root

    # and a reply cannot be resolved, the thread can, once, and can be reopened
    with pytest.raises(ValidationError, match="first comment"):
        services.resolve_comment(actor=setup["producer"], comment=reply)
    services.resolve_comment(actor=setup["producer"], comment=root)
    with pytest.raises(ValidationError, match="resolved already"):
        services.resolve_comment(actor=setup["producer"], comment=root)
    services.reopen_comment(actor=setup["supervisor"], comment=root)
    root.refresh_from_db()
    assert root.resolved_at is None
    assert list(AuditEvent.objects.filter(action__in=["comment.resolved", "comment.reopened"])
                .values_list("action", flat=True)) == ["comment.resolved", "comment.reopened"]


def test_a_note_is_numbered_in_every_open_room_that_shows_its_version(setup):
    # given two open sessions and one closed, all with the version in their playlist
    version, producer = setup["version"], setup["producer"]
    sessions = [services.create_review_session(actor=producer, production=setup["production"], title=f"S{i}",
                                               version_ids=[version.pk]) for i in range(3)]
    services.close_review_session(actor=producer, session=sessions[2])

    # when two notes are made on the version
    first = draw(setup["supervisor"], version)
    second = services.create_comment(actor=setup["supervisor"], version=version, body="Soft")

    # then the version room and the two open session rooms each hold both, numbered 1 and 2
    keys = ["version-%d" % version.pk] + [f"session-{s.pk.hex}" for s in sessions[:2]]
    assert [e.room.key for e in first.events] == keys
    for room in Room.objects.filter(key__in=keys):
        assert list(room.events.values_list("sequence", "type")) == [(1, "annotation.created"),
                                                                      (2, "comment.created")]
    # and the closed session's room got nothing after its closing event
    assert list(sessions[2].room.events.values_list("type", flat=True)) == ["session.closed"]
    assert second.sequence_in(sessions[0].room.pk) == 2


def test_a_producer_may_take_the_lead_from_a_presenter_in_the_room_but_a_supervisor_may_not(setup):
    version = setup["version"]
    room = services.version_room(version)
    editor = member(setup["production"], Role.EDITOR)
    for i, user in enumerate((setup["supervisor"], editor)):
        RoomPresence.objects.create(channel_name=f"c{i}", public_id=f"p{i}", room=room, user=user,
                                    joined_at=timezone.now(), seen_at=timezone.now())

    # given the supervisor presenting, in the room
    services.claim_presenter(actor=setup["supervisor"], room=room)

    # when the editor tries to take over, then they must ask
    with pytest.raises(PermissionDenied, match="hand over"):
        services.claim_presenter(actor=editor, room=room)

    # and the presenter can hand over only to someone in the room
    with pytest.raises(ValidationError, match="in the room"):
        services.hand_over_presenter(actor=setup["supervisor"], room=room, to_user_id=setup["producer"].pk)

    # and the producer takes it anyway, which is audited
    services.claim_presenter(actor=setup["producer"], room=room)
    room.refresh_from_db()
    assert room.presenter == setup["producer"]
    assert AuditEvent.objects.filter(action="review.presenter_changed").count() == 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_get_distinct_consecutive_numbers(postgres_only):
    # given a version and six people drawing on it at once
    production = ProductionFactory()
    version = VersionFactory(shot=ShotFactory(production=production, first_frame=1, last_frame=100))
    people = [member(production, Role.SUPERVISOR) for _ in range(6)]
    errors = []

    def write(person):
        try:
            for i in range(8):
                draw(person, version, frame=i, op=f"{person.pk}-{i}")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(p,)) for p in people]

    # when they all write
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then every note has its own number, with no gap and no repeat
    assert errors == []
    room = Room.objects.get(key=f"version-{version.pk}")
    assert list(room.events.order_by("sequence").values_list("sequence", flat=True)) == list(range(1, 49))
    assert room.last_sequence == 48
    assert verify_chain().ok

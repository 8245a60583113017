"""The review room over WebSockets, through the real ASGI stack (origin check, session and
token auth, routing) with the in-process channel layer."""
import asyncio
import json
from datetime import timedelta
from unittest import mock

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.core.checks import run_checks
from django.db import transaction
from django.utils import timezone

from answerprint.accounts.services import revoke_member
from answerprint.audit.models import AuditEvent
from answerprint.review import broadcast, consumers, services
from answerprint.review.models import Annotation, RoomEvent
from tests.factories import VersionFactory, member
from tests.review.conftest import joined, open_room, run_async, session_cookie, token_for

LINE = {"frame": 3, "shape": "line", "points": [[0.1, 0.2], [0.8, 0.9]]}


def line(frame=3, **extra):
    return {**LINE, "frame": frame, **extra}


async def draw(client, op, frame=3):
    await client.send(type="annotation.create", op=op, annotation=line(frame))
    return await client.receive_type("ack", "error")


# ---------------------------------------------------------------- who may connect


@pytest.mark.django_db(transaction=True)
@run_async
async def test_a_member_joins_with_the_session_cookie(review):
    # given a supervisor's browser session
    cookie = review.cookie(review.supervisor)

    # when the browser opens the version's room and says hello
    client, welcome = await joined(review.path, cookie)

    # then the room welcomes them by name and role, with an empty room state
    assert welcome["you"]["user"]["id"] == review.supervisor.pk
    assert welcome["you"]["role"] == "supervisor" and "annotate" in welcome["you"]["can"]
    assert welcome["reset"] is True and welcome["state"]["annotations"] == [] and welcome["seq"] == 0
    assert [p["user"]["id"] for p in welcome["state"]["presence"]] == [review.supervisor.pk]
    await client.close()


@pytest.mark.django_db(transaction=True)
@run_async
async def test_a_tool_joins_with_an_api_token_header(review):
    # given a pipeline tool holding the producer's API token and no cookie
    token = await database_sync_to_async(token_for)(review.producer)

    # when it connects with `Authorization: Token ...`
    client, accepted, _ = await open_room(review.path, token=token)

    # then it is in, as the producer
    assert accepted
    assert (await client.hello())["you"]["user"]["id"] == review.producer.pk
    await client.close()


@pytest.mark.django_db(transaction=True)
@run_async
async def test_a_browser_may_offer_the_token_as_a_subprotocol_and_only_the_protocol_is_echoed(review):
    # given a token offered the way a browser can: as a subprotocol
    token = await database_sync_to_async(token_for)(review.viewer)

    # when the socket opens with ["answerprint.v1", "token.<key>"]
    client, accepted, subprotocol = await open_room(review.path, subprotocols=["answerprint.v1", f"token.{token}"])

    # then it is accepted as the viewer and the token is not sent back
    assert accepted and subprotocol == "answerprint.v1"
    assert (await client.hello())["you"]["role"] == "viewer"
    await client.close()


@pytest.mark.django_db(transaction=True)
@run_async
async def test_a_token_in_the_query_string_is_accepted_as_a_last_resort(review):
    # given a client that can set neither headers nor subprotocols
    token = await database_sync_to_async(token_for)(review.supervisor)

    # when it connects with ?token=
    client, accepted, _ = await open_room(f"{review.path}?token={token}")

    # then it is in, as the token's owner
    assert accepted
    assert (await client.hello())["you"]["user"]["id"] == review.supervisor.pk
    await client.close()


@pytest.mark.django_db(transaction=True)
@run_async
async def test_an_anonymous_connection_is_refused(review):
    # when someone with neither cookie nor token connects
    _, accepted, code = await open_room(review.path)

    # then the handshake is refused as not signed in
    assert (accepted, code) == (False, 4401)


@pytest.mark.django_db(transaction=True)
@run_async
async def test_a_wrong_token_is_refused_even_alongside_a_valid_session(review):
    # when a valid session cookie comes with a token that is not valid
    _, accepted, code = await open_room(review.path, cookie=review.cookie(review.producer), token="0" * 40)

    # then the explicit credential decides, and it fails
    assert (accepted, code) == (False, 4401)


@pytest.mark.django_db(transaction=True)
@run_async
async def test_it_rejects_a_foreign_origin_and_a_missing_one(review):
    cookie = review.cookie(review.producer)

    # when a page on another site, and a client sending no Origin, open the room with a valid cookie
    _, foreign_accepted, _ = await open_room(review.path, cookie=cookie, origin=(b"origin", b"https://evil.example"))
    _, missing_accepted, _ = await open_room(review.path, cookie=cookie, origin=None)

    # then both are refused before any room code runs
    assert foreign_accepted is False and missing_accepted is False


@pytest.mark.django_db(transaction=True)
@run_async
async def test_a_non_member_is_refused_exactly_like_a_missing_version(review):
    # when the producer of another production opens this room, and a member opens a version that does not exist
    _, outsider_accepted, outsider_code = await open_room(review.path, cookie=review.cookie(review.outsider))
    _, missing_accepted, missing_code = await open_room("/ws/review/versions/999999/",
                                                        cookie=review.cookie(review.producer))

    # then both get the same refusal
    assert (outsider_accepted, outsider_code) == (False, 4403)
    assert (missing_accepted, missing_code) == (False, 4403)


@pytest.mark.django_db(transaction=True)
@run_async
async def test_a_member_whose_access_is_revoked_is_refused_at_their_next_message(review):
    # given a supervisor in the room
    client, _ = await joined(review.path, review.cookie(review.supervisor))

    # when their membership is revoked while connected, and they then try to draw
    membership = await database_sync_to_async(lambda: review.supervisor.memberships.get())()
    await database_sync_to_async(revoke_member)(actor=review.producer, membership=membership, reason="left show")
    await client.send(type="annotation.create", op="after-revoke", annotation=line())

    # then the drawing is refused, the socket closed, and nothing was stored
    error = await client.receive_type("error")
    assert error["code"] == "forbidden"
    assert (await client.communicator.receive_output(5))["type"] == "websocket.close"
    assert not await database_sync_to_async(Annotation.objects.exists)()


async def _frames_until_closed(client, timeout=5):
    """The frames a client gets before the server closes it, and the close code."""
    frames = []
    while True:
        output = await client.communicator.receive_output(timeout)
        if output["type"] == "websocket.close":
            return frames, output.get("code")
        frames.append(json.loads(output["text"]))


@pytest.mark.django_db(transaction=True)
@run_async
async def test_a_watcher_whose_access_expires_stops_receiving_without_sending_anything(review):
    # given an external reviewer whose access ends in a few seconds, watching quietly
    ends = timezone.now() + timedelta(seconds=3)
    guest = await database_sync_to_async(member)(review.production, "viewer", expires_at=ends)
    cookie = await database_sync_to_async(session_cookie)(guest)
    watcher, _ = await joined(review.path, cookie)
    drawer, _ = await joined(review.path, review.cookie(review.supervisor))

    # when their access has ended and someone draws
    await asyncio.sleep((ends - timezone.now()).total_seconds() + 0.1)
    await draw(drawer, "after-expiry")

    # then the watcher is disconnected instead of being sent the drawing
    frames, code = await _frames_until_closed(watcher)
    assert code == 4403
    assert [f for f in frames if f["type"] == "event"] == []
    await drawer.close()


@pytest.mark.django_db(transaction=True)
@run_async
async def test_a_revoked_watcher_is_cut_off_at_the_next_membership_check(review, monkeypatch):
    # given a quiet watcher, and membership re-read on every outgoing frame
    monkeypatch.setattr(consumers, "RECHECK_SECONDS", 0)
    watcher, _ = await joined(review.path, review.cookie(review.viewer))
    drawer, _ = await joined(review.path, review.cookie(review.supervisor))

    # when their membership is revoked and two drawings follow
    membership = await database_sync_to_async(lambda: review.viewer.memberships.get())()
    await database_sync_to_async(revoke_member)(actor=review.producer, membership=membership)
    await draw(drawer, "r-1", frame=1)
    await draw(drawer, "r-2", frame=2)

    # then the watcher is closed having received at most the frame that triggered the check
    frames, code = await _frames_until_closed(watcher)
    assert code == 4403
    assert len([f for f in frames if f["type"] == "event"]) <= 1
    await drawer.close()


@pytest.mark.django_db(transaction=True)
@run_async
async def test_a_viewer_may_comment_but_not_draw(review):
    # given a viewer in the room
    client, _ = await joined(review.path, review.cookie(review.viewer))

    # when they try to draw, then comment
    refused = await draw(client, "v-draw")
    await client.send(type="comment.create", op="v-note", comment={"frame": 5, "body": "Flicker here"})
    ack = await client.receive_type("ack", "error")

    # then the drawing is refused with the reason and the comment is stored
    assert refused["code"] == "forbidden" and "annotate" in refused["message"]
    assert ack["type"] == "ack" and ack["seq"] == 1
    await client.close()


def test_websocket_origins_cannot_be_opened_to_every_host_outside_debug(settings):
    # given a production configuration that allows every host
    settings.DEBUG, settings.ALLOWED_HOSTS = False, ["*"]

    # when the system checks run
    errors = [e for e in run_checks(include_deployment_checks=False) if e.id == "review.E001"]

    # then the wildcard is named as an error
    assert len(errors) == 1


# ---------------------------------------------------------------- bad messages


@pytest.mark.django_db(transaction=True)
@run_async
async def test_bad_messages_get_an_error_naming_the_problem_and_the_connection_stays_open(review):
    client, _ = await joined(review.path, review.cookie(review.supervisor))

    # when the client sends garbage of every kind
    await client.send_raw(text="{not json")
    bad_json = await client.receive_type("error")
    await client.send_raw(text="[1, 2]")
    not_object = await client.receive_type("error")
    await client.send_raw(data=b"\x00\x01")
    binary = await client.receive_type("error")
    await client.send(type="annotation.explode", op="x")
    unknown = await client.receive_type("error")
    await client.send(type="annotation.create", op="p1", annotation=line(points=[[0.1, 0.2], [0.5, 1.7]]))
    out_of_range = await client.receive_type("error")
    await client.send(type="annotation.create", annotation=line())
    missing_op = await client.receive_type("error")
    await client.send(type="annotation.create", op="p2", annotation=line(frame=48))
    past_the_end = await client.receive_type("error")
    await client.send(type="annotation.create", op="p3", annotation={**line(), "shape": "rectangle",
                                                                      "points": [[0.1, 0.1]]})
    wrong_count = await client.receive_type("error")

    # then each gets an error frame that says what was wrong
    assert bad_json["code"] == "bad_json"
    assert not_object["code"] == "invalid" and '"type"' in not_object["message"]
    assert binary["code"] == "bad_frame"
    assert unknown["code"] == "unknown_type" and "annotation.explode" in unknown["message"]
    assert out_of_range["code"] == "invalid" and out_of_range["ref"] == "p1"
    assert out_of_range["message"].startswith("annotation.points.1.1:")
    assert missing_op["code"] == "invalid" and missing_op["message"].startswith("op:")
    assert past_the_end["code"] == "invalid" and "frames 0 to 47" in past_the_end["message"]
    assert wrong_count["code"] == "invalid" and "rectangle takes 2 points" in wrong_count["message"]

    # and the connection still works
    ack = await draw(client, "good")
    assert ack["type"] == "ack" and ack["seq"] == 1
    assert await database_sync_to_async(Annotation.objects.count)() == 1
    await client.close()


@pytest.mark.django_db(transaction=True)
@run_async
async def test_messages_before_hello_are_refused(review):
    client, accepted, _ = await open_room(review.path, cookie=review.cookie(review.supervisor))
    assert accepted

    # when a client draws before saying hello
    error = await draw(client, "early")

    # then it is told to say hello first, and nothing is stored
    assert error["code"] == "not_ready"
    assert not await database_sync_to_async(Annotation.objects.exists)()
    await client.close()


@pytest.mark.django_db(transaction=True)
@run_async
async def test_a_client_that_floods_is_rate_limited_and_stays_connected(review, settings):
    # given a limit of three operations in a burst, refilling slowly
    settings.REVIEW_WS_RATE_LIMITS = {"ops": (3, 0.5), "live": (100, 50.0)}
    client, _ = await joined(review.path, review.cookie(review.supervisor))

    # when the client sends five drawings at once
    replies = [await draw(client, f"flood-{i}", frame=i) for i in range(5)]

    # then three are applied and two refused with a time to wait
    assert [r["type"] for r in replies] == ["ack", "ack", "ack", "error", "error"]
    assert replies[3]["code"] == "rate_limited" and 0 < replies[3]["retry_after"] <= 2
    assert await database_sync_to_async(Annotation.objects.count)() == 3

    # and the connection is still open for live traffic
    await client.send(type="ping")
    assert (await client.receive_type("pong"))["type"] == "pong"
    await client.close()


# ---------------------------------------------------------------- reliable delivery


@pytest.mark.django_db(transaction=True)
@run_async
async def test_a_reconnecting_client_gets_what_it_missed_in_order_without_duplicates(review):
    # given two people in the room, the second having seen event 1
    alice, _ = await joined(review.path, review.cookie(review.supervisor))
    bob, _ = await joined(review.path, review.cookie(review.producer))
    await draw(alice, "a-1", frame=1)
    assert (await bob.receive_type("event"))["seq"] == 1

    # when bob drops off, alice draws three more, and bob comes back with the last number he saw
    await bob.close()
    for frame in (2, 3, 4):
        await draw(alice, f"a-{frame}", frame=frame)
    bob, welcome = await joined(review.path, review.cookie(review.producer), since=1)

    # then he gets exactly the three he missed, in order
    assert welcome["reset"] is False
    assert [(e["seq"], e["data"]["frame"]) for e in welcome["missed"]] == [(2, 2), (3, 3), (4, 4)]
    assert welcome["seq"] == 4

    # and the next event arrives live once, with the next number
    await draw(alice, "a-5", frame=5)
    assert (await bob.receive_type("event"))["seq"] == 5
    assert await bob.news() == []
    await alice.close()
    await bob.close()


@pytest.mark.django_db(transaction=True)
@run_async
async def test_a_retried_operation_is_applied_once(review):
    # given a sender and a watcher
    sender, _ = await joined(review.path, review.cookie(review.supervisor))
    watcher, _ = await joined(review.path, review.cookie(review.producer))

    # when the sender sends the same operation twice (a retry after a lost ack)
    first = await draw(sender, "retry-me")
    second = await draw(sender, "retry-me")

    # then it was applied once: same event, one row, one audit entry, one event seen by the watcher
    assert (first["seq"], first["duplicate"]) == (1, False)
    assert (second["seq"], second["duplicate"]) == (1, True)
    assert await database_sync_to_async(Annotation.objects.count)() == 1
    assert await database_sync_to_async(AuditEvent.objects.filter(action="annotation.created").count)() == 1
    assert (await watcher.receive_type("event"))["seq"] == 1
    assert await watcher.news() == []

    # and reusing the key for a different operation is refused rather than mistaken for a retry
    await sender.send(type="comment.create", op="retry-me", comment={"body": "hello"})
    assert (await sender.receive_type("error"))["message"].startswith("op:")
    await sender.close()
    await watcher.close()


@pytest.mark.django_db(transaction=True)
@run_async
async def test_an_event_lost_by_the_channel_layer_is_filled_in_before_the_next(review):
    # given a watcher, and a channel layer that drops the next stored event
    watcher, _ = await joined(review.path, review.cookie(review.producer))
    sender, _ = await joined(review.path, review.cookie(review.supervisor))
    real_send, dropped = broadcast.send_group, []

    def lossy(group, message):
        if message["type"] == "room.event" and not dropped:
            dropped.append(message["seq"])
            return
        real_send(group, message)

    # when one event is lost in transit and another follows
    with mock.patch.object(broadcast, "send_group", lossy):
        await draw(sender, "lost", frame=1)
        await draw(sender, "kept", frame=2)

    # then the watcher still gets both, in order
    first, second = await watcher.receive_type("event"), await watcher.receive_type("event")
    assert dropped == [1]
    assert [(first["seq"], first["op"]), (second["seq"], second["op"])] == [(1, "lost"), (2, "kept")]
    await watcher.close()
    await sender.close()


@pytest.mark.django_db(transaction=True)
@run_async
async def test_a_client_that_lost_its_place_gets_the_whole_state(review):
    # given two drawings and a comment in the room
    author, _ = await joined(review.path, review.cookie(review.supervisor))
    await draw(author, "s-1", frame=1)
    await draw(author, "s-2", frame=2)
    await author.send(type="comment.create", op="s-3", comment={"frame": 2, "body": "Soften the edge"})
    await author.receive_type("ack")

    # when a client comes back claiming a number the room never reached (another database, a reset)
    client, welcome = await joined(review.path, review.cookie(review.producer), since=99)

    # then it is sent the whole current state instead of events
    assert welcome["reset"] is True and welcome["seq"] == 3 and welcome["missed"] == []
    assert sorted(a["frame"] for a in welcome["state"]["annotations"]) == [1, 2]
    assert [c["body"] for c in welcome["state"]["comments"]] == ["Soften the edge"]
    await author.close()
    await client.close()


# ---------------------------------------------------------------- live collaboration


@pytest.mark.django_db(transaction=True)
@run_async
async def test_notes_and_their_changes_reach_everyone_in_the_room(review):
    alice, _ = await joined(review.path, review.cookie(review.supervisor))
    bob, _ = await joined(review.path, review.cookie(review.producer))

    # when alice draws, moves the drawing, comments mentioning bob, and bob resolves the thread
    await draw(alice, "n-1", frame=4)
    created = await bob.receive_type("event")
    await alice.send(type="annotation.update", op="n-2", id=created["data"]["id"], changes={"frame": 6})
    await alice.send(type="comment.create", op="n-3",
                     comment={"frame": 6, "duration": 3, "body": f"@{review.producer.username} too hot?"})
    updated, commented = await bob.receive_type("event"), await bob.receive_type("event")
    await bob.send(type="comment.resolve", op="n-4", id=commented["data"]["id"])
    resolved = await alice.receive_type("event")
    while resolved["event"] != "comment.resolved":  # alice also gets her own events
        resolved = await alice.receive_type("event")

    # then everyone saw each change, numbered in order
    assert [e["event"] for e in (created, updated, commented)] == \
        ["annotation.created", "annotation.updated", "comment.created"]
    assert [e["seq"] for e in (created, updated, commented)] == [1, 2, 3]
    assert updated["data"]["frame"] == 6 and updated["data"]["revision"] == 2
    assert [m["id"] for m in commented["data"]["mentions"]] == [review.producer.pk]
    assert resolved["event"] == "comment.resolved" and resolved["data"]["resolved"] is True
    assert resolved["by"]["id"] == review.producer.pk
    await alice.close()
    await bob.close()


@pytest.mark.django_db(transaction=True)
@run_async
async def test_presence_shows_who_is_here_and_on_which_frame(review):
    # given alice in the room
    alice, _ = await joined(review.path, review.cookie(review.supervisor))

    # when bob joins, scrubs to frame 12 and detaches from the presenter, then a third person joins
    bob, _ = await joined(review.path, review.cookie(review.producer))
    joined_frame = await alice.receive_type("presence.joined")
    await bob.send(type="presence", frame=12, following=False)
    moved = await alice.receive_type("presence.moved")
    carol, welcome = await joined(review.path, review.cookie(review.viewer))

    # then alice saw bob arrive and move, and carol's welcome lists everyone with bob's frame
    assert joined_frame["user"]["id"] == review.producer.pk
    assert (moved["frame"], moved["following"]) == (12, False)
    listed = {p["user"]["id"]: p for p in welcome["state"]["presence"]}
    assert set(listed) == {review.supervisor.pk, review.producer.pk, review.viewer.pk}
    assert listed[review.producer.pk]["frame"] == 12

    # and when bob leaves, the others are told
    await bob.close()
    assert (await alice.receive_type("presence.left"))["user"]["id"] == review.producer.pk
    await alice.close()
    await carol.close()


@pytest.mark.django_db(transaction=True)
@run_async
async def test_presence_changes_arriving_together_go_out_as_one_frame_to_clients_that_ask(review):
    # given one client that takes presence batches and one that does not
    batcher, welcome = await joined(review.path, review.cookie(review.producer), presence_batches=True)
    plain, _ = await joined(review.path, review.cookie(review.viewer))
    await asyncio.sleep(0.3)  # let the second arrival's own presence change go out
    assert await batcher.news() == [] and await plain.news() == []

    # when three presence changes reach the room within a moment (a crowd arriving)
    for n in range(3):
        await get_channel_layer().group_send(f"review.{welcome['state']['room']}", broadcast.live_message(
            {"type": "presence.joined", "id": f"p{n}"}, batch=True))

    # then the first gets them as one frame, in order, and the second one by one
    frame = json.loads(await batcher.communicator.receive_from(timeout=5))
    assert frame["type"] == "presence.batch"
    assert [f["id"] for f in frame["frames"]] == ["p0", "p1", "p2"]
    singles = [json.loads(await plain.communicator.receive_from(timeout=5)) for _ in range(3)]
    assert [(f["type"], f["id"]) for f in singles] == [("presence.joined", f"p{n}") for n in range(3)]
    await batcher.close()
    await plain.close()


@pytest.mark.django_db(transaction=True)
@run_async
async def test_the_laser_pointer_reaches_others_and_is_not_stored(review):
    alice, _ = await joined(review.path, review.cookie(review.supervisor))
    bob, _ = await joined(review.path, review.cookie(review.viewer))

    # when alice points at a spot
    await alice.send(type="pointer", x=0.25, y=0.75, frame=10)

    # then bob sees it, alice gets no echo, and nothing was stored
    pointer = await bob.receive_type("pointer")
    assert (pointer["x"], pointer["y"], pointer["frame"]) == (0.25, 0.75, 10)
    assert pointer["user"]["id"] == review.supervisor.pk
    assert await alice.news() == []
    assert not await database_sync_to_async(RoomEvent.objects.exists)()
    await alice.close()
    await bob.close()


@pytest.mark.django_db(transaction=True)
@run_async
async def test_only_the_presenter_drives_the_playhead_and_can_hand_it_over(review):
    lead, _ = await joined(review.path, review.cookie(review.supervisor))
    viewer, _ = await joined(review.path, review.cookie(review.viewer))

    # when the supervisor takes the lead and plays a loop at half speed
    await lead.send(type="presenter.claim", op="c-1")
    await lead.receive_type("ack")
    changed = await viewer.receive_type("event")
    await lead.send(type="playhead", state="playing", frame=10, rate=0.5, loop=[10, 20])
    followed = await viewer.receive_type("playhead")

    # then the viewer follows, and cannot drive it themselves
    assert changed["event"] == "presenter.changed" and changed["data"]["presenter"]["id"] == review.supervisor.pk
    assert (followed["state"], followed["frame"], followed["rate"], followed["loop"]) == \
        ("playing", 10, 0.5, [10, 20])
    await viewer.send(type="playhead", state="paused")
    assert (await viewer.receive_type("error"))["code"] == "forbidden"

    # when the lead hands over to the viewer, the viewer drives and the old lead follows
    await lead.send(type="presenter.handover", op="c-2", to=review.viewer.pk)
    await lead.receive_type("ack")
    await viewer.send(type="playhead", state="paused", frame=15, compare={"mode": "wipe", "position": 0.3})
    paused = await lead.receive_type("playhead")
    assert paused["by"]["id"] == review.viewer.pk
    assert (paused["state"], paused["frame"], paused["loop"]) == ("paused", 15, [10, 20])
    assert paused["compare"] == {"mode": "wipe", "position": 0.3}

    # and someone joining later, on any process, starts where the room is
    late, welcome = await joined(review.path, review.cookie(review.producer))
    assert welcome["state"]["presenter"]["id"] == review.viewer.pk
    assert (welcome["state"]["playhead"]["frame"], welcome["state"]["playhead"]["state"]) == (15, "paused")
    await lead.close()
    await viewer.close()
    await late.close()


@pytest.mark.django_db(transaction=True)
@run_async
async def test_a_session_room_follows_every_version_of_its_playlist(review):
    # given a session over two versions of the production
    other = await database_sync_to_async(VersionFactory)(shot=review.shot)
    session = await database_sync_to_async(services.create_review_session)(
        actor=review.producer, production=review.production, title="Dailies",
        version_ids=[review.version.pk, other.pk])
    in_session, welcome = await joined(f"/ws/review/sessions/{session.pk}/", review.cookie(review.supervisor))
    in_version_room, _ = await joined(review.path, review.cookie(review.producer))

    # when someone draws in the version's own room, and the session client draws on the other version
    await draw(in_version_room, "v-1")
    from_version_room = await in_session.receive_type("event")
    unnamed = await draw(in_session, "s-1")
    await in_session.send(type="annotation.create", op="s-2", annotation=line(version=other.pk))
    ack = await in_session.receive_type("ack")

    # then the session room numbers both in its own sequence; an operation must name its version
    assert welcome["state"]["versions"] == [review.version.pk, other.pk]
    assert (from_version_room["room"], from_version_room["seq"]) == (f"session-{session.pk.hex}", 1)
    assert unnamed["code"] == "invalid" and unnamed["message"].startswith("version:")
    assert ack["seq"] == 2
    assert await in_version_room.news() == []  # the other version's drawing is not this room's business
    await in_session.close()
    await in_version_room.close()


# ---------------------------------------------------------------- events from outside the room


@pytest.mark.django_db(transaction=True)
@run_async
async def test_an_outside_event_reaches_the_room_only_after_its_transaction_commits(review):
    client, _ = await joined(review.path, review.cookie(review.producer))
    seen_before_commit = []

    def publish(fail=False):
        with transaction.atomic():
            services.publish_to_version_room(review.version, "proposal.ready", {"proposal": 7})
            seen_before_commit.append(async_to_sync(client.communicator.receive_nothing)(0.3))
            if fail:
                raise RuntimeError("the proposal could not be saved")

    # when one publishing transaction rolls back and another commits
    with pytest.raises(RuntimeError):
        await database_sync_to_async(publish)(fail=True)
    await database_sync_to_async(publish)()

    # then nothing went out before commit, and only the committed event arrived, stored and numbered
    assert seen_before_commit == [True, True]
    event = await client.receive_type("event")
    assert (event["event"], event["seq"], event["data"]) == ("proposal.ready", 1, {"version": review.version.pk,
                                                                                    "proposal": 7})
    assert await client.news() == []
    assert await database_sync_to_async(RoomEvent.objects.filter(type="proposal.ready").count)() == 1
    await client.close()


@pytest.mark.django_db(transaction=True)
@run_async
async def test_asset_progress_on_the_production_group_reaches_the_rooms_of_that_version(review):
    # given one client in this version's room and one in another version's room of the production
    other = await database_sync_to_async(VersionFactory)(shot=review.shot)
    here, _ = await joined(review.path, review.cookie(review.producer))
    elsewhere, _ = await joined(f"/ws/review/versions/{other.pk}/", review.cookie(review.producer))

    # when the media pipeline publishes progress for this version to the production's group
    await get_channel_layer().group_send(broadcast.production_group(review.production.pk), {
        "type": "asset.progress", "version": review.version.pk, "asset": 3, "status": "transcoding",
        "progress": 40})

    # then only this version's room forwards it, live
    notice = await here.receive_type("live")
    assert notice == {"type": "live", "event": "asset.progress",
                      "data": {"version": review.version.pk, "asset": 3, "status": "transcoding", "progress": 40}}
    assert await elsewhere.news() == []
    await here.close()
    await elsewhere.close()


def test_another_app_cannot_forge_a_room_event_type():
    # when another app publishes under a type the room itself writes, then it is refused
    with pytest.raises(ValueError, match="not a type"):
        services.publish_to_production(None, "comment.created", {})

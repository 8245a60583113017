"""Playlist pages over the review sessions: build one, open it on an item, see where items stand."""
import pytest

from answerprint.accounts.models import Role
from answerprint.media.models import AssetStatus, MediaAsset, VersionState
from answerprint.review.models import ReviewSession
from answerprint.review.services import create_comment
from tests.factories import ProductionFactory, ShotFactory, VersionFactory, member

pytestmark = pytest.mark.django_db


@pytest.fixture
def reel():
    production = ProductionFactory(code="reel")
    versions = []
    for name in ("SC010_SH010", "SC010_SH020"):
        version = VersionFactory(shot=ShotFactory(production=production, name=name), state=VersionState.READY)
        MediaAsset.objects.create(version=version, original="tests/o.mov", original_name="o.mov",
                                  status=AssetStatus.READY, fps_num=24, fps_den=1, frame_count=12, width=64,
                                  height=36, proxy="tests/proxy.mp4")
        versions.append(version)
    return production, versions


def test_a_supervisor_builds_a_playlist_and_lands_on_its_first_item(client, reel):
    # given a supervisor on the playlists page
    production, (first, second) = reel
    supervisor = member(production, Role.SUPERVISOR)
    client.force_login(supervisor)
    assert "Build a playlist" in client.get("/p/reel/playlists/").content.decode()

    # when they open a playlist of the two shots, second first
    response = client.post("/p/reel/playlists/", {"title": "Dailies", "versions": [second.pk, first.pk]})

    # then the session exists in that order and its page shows its first item in the session's room
    session = ReviewSession.objects.get()
    assert list(session.items.values_list("version_id", flat=True)) == [second.pk, first.pk]
    assert response.status_code == 302 and response["Location"] == f"/p/reel/playlists/{session.pk}/"
    page = client.get(response["Location"]).content.decode()
    assert f'room="/ws/review/sessions/{session.pk}/" version-id="{second.pk}" playlist' in page
    assert page.count("data-item=") == 2


def test_each_item_says_where_it_stands_and_how_many_notes_are_open(client, reel):
    production, (first, second) = reel
    supervisor = member(production, Role.SUPERVISOR)
    create_comment(actor=supervisor, version=first, body="Too warm")
    client.force_login(supervisor)
    client.post("/p/reel/playlists/", {"title": "Dailies", "versions": [first.pk, second.pk]})
    session = ReviewSession.objects.get()
    page = client.get(f"/p/reel/playlists/{session.pk}/?item={second.pk}").content.decode()
    assert f'aria-current="true" class="current" data-item="{second.pk}"' in page
    assert "1 open note" in page and page.count('data-status>Ready<') == 2


def test_a_viewer_may_watch_but_not_build(client, reel):
    production, (first, _second) = reel
    client.force_login(member(production, Role.VIEWER))
    assert "Build a playlist" not in client.get("/p/reel/playlists/").content.decode()
    assert client.post("/p/reel/playlists/", {"title": "x", "versions": [first.pk]}).status_code == 403


def test_a_playlist_of_another_production_is_not_found(client, reel):
    production, (first, _second) = reel
    supervisor = member(production, Role.SUPERVISOR)
    client.force_login(supervisor)
    client.post("/p/reel/playlists/", {"title": "Dailies", "versions": [first.pk]})
    session = ReviewSession.objects.get()
    other = ProductionFactory(code="other")
    client.force_login(member(other, Role.PRODUCER))
    assert client.get(f"/p/reel/playlists/{session.pk}/").status_code == 404
    assert client.get(f"/p/other/playlists/{session.pk}/").status_code == 404


def test_a_playlist_without_a_title_keeps_the_choice_and_says_why(client, reel):
    production, (first, _second) = reel
    client.force_login(member(production, Role.SUPERVISOR))
    response = client.post("/p/reel/playlists/", {"title": " ", "versions": [first.pk]})
    page = response.content.decode()
    assert response.status_code == 400 and "A session needs a title." in page
    assert f'value="{first.pk}" checked' in page
    assert not ReviewSession.objects.exists()

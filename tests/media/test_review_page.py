"""The shot page hands the review island what it needs: the room, who may do what, the
versions it can compare with and the people to mention."""
import json
import re

import pytest

from answerprint.accounts.models import Role
from answerprint.media.models import AssetStatus, MediaAsset, VersionState
from tests.factories import ProductionFactory, ShotFactory, VersionFactory, member


def _ready(shot, **kwargs):
    version = VersionFactory(shot=shot, state=VersionState.READY, **kwargs)
    MediaAsset.objects.create(version=version, original="x/original.mov", original_name="original.mov",
                              sha256="a" * 64, size_bytes=1, status=AssetStatus.READY, fps_num=24, fps_den=1,
                              frame_count=12, width=64, height=36, proxy=f"x/{version.pk}/proxy.mp4")
    return version


def _script(html, name):
    return json.loads(re.search(rf'<script id="{name}" type="application/json">(.*?)</script>', html, re.S).group(1))


@pytest.mark.django_db
def test_the_shot_page_joins_the_versions_room_and_offers_its_parent_first_to_compare(client):
    # given a plate and a proposal made from it
    production = ProductionFactory()
    shot = ShotFactory(production=production)
    plate = _ready(shot)
    proposal = _ready(shot, kind="proposal", parent=plate)
    supervisor = member(production, Role.SUPERVISOR, user__username="sam")
    client.force_login(supervisor)

    # when the supervisor opens the proposal
    response = client.get(f"/p/{production.code}/shots/{shot.name}/?v={proposal.number}")

    # then the island joins the proposal's room, may draw, and compares with the plate first
    html = response.content.decode()
    assert f'room="/ws/review/versions/{proposal.pk}/"' in html
    assert "can-draw" in html and "can-comment" in html
    options = _script(html, "review-compare")
    assert [o["id"] for o in options] == [plate.pk, proposal.pk]
    assert options[0]["src"] == f"/m/{plate.asset.pk}/proxy"
    assert {"username": "sam", "name": supervisor.printed_name} in _script(html, "review-members")


@pytest.mark.django_db
def test_a_viewer_gets_the_room_without_drawing_or_presenting(client):
    # given a viewer of a production with one plate
    production = ProductionFactory()
    shot = ShotFactory(production=production)
    _ready(shot)
    client.force_login(member(production, Role.VIEWER))

    # when they open the shot
    html = client.get(f"/p/{production.code}/shots/{shot.name}/").content.decode()

    # then they may comment but not draw, present or ask for a fix
    assert "<ap-review" in html and "can-comment" in html
    assert "can-draw" not in html and "can-present" not in html and "fix-url=" not in html

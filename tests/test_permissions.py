"""The permission matrix: every page and API endpoint, against an outsider and a role without
the right. An outsider (a member of another production, even its producer) gets 404, exactly
as if the object did not exist; a member whose role lacks the right gets 403."""
from dataclasses import dataclass

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from answerprint.accounts.models import Role
from answerprint.accounts.permissions import CAPABILITIES
from answerprint.media.models import AssetStatus, MediaAsset, TimelineImport
from tests.factories import ProductionFactory, ShotFactory, VersionFactory, member

ROLE_ORDER = [Role.VIEWER, Role.COMPLIANCE, Role.EDITOR, Role.SUPERVISOR, Role.PRODUCER]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    capability: str

    def __str__(self):
        return f"{self.method} {self.path}"


ENDPOINTS = [
    Endpoint("get", "/p/{code}/", "view"),
    Endpoint("get", "/p/{code}/grid/", "view"),
    Endpoint("get", "/p/{code}/shots/{shot}/", "view"),
    Endpoint("post", "/p/{code}/upload/", "ingest"),
    Endpoint("post", "/p/{code}/timeline/", "ingest"),
    Endpoint("get", "/p/{code}/timelines/{timeline}/", "view"),
    Endpoint("post", "/p/{code}/assets/{asset}/retry/", "ingest"),
    Endpoint("get", "/m/{asset}/poster", "view"),
    Endpoint("get", "/m/{asset}/proxy", "view"),
    Endpoint("get", "/m/{asset}/original", "download_original"),
    Endpoint("get", "/api/productions/{code}/", "view"),
    Endpoint("patch", "/api/productions/{code}/", "edit_production"),
    Endpoint("get", "/api/productions/{code}/members/", "view"),
    Endpoint("post", "/api/productions/{code}/members/", "manage_members"),
    Endpoint("delete", "/api/productions/{code}/members/{membership}/", "manage_members"),
    Endpoint("get", "/api/productions/{code}/shots/", "view"),
    Endpoint("post", "/api/productions/{code}/shots/", "ingest"),
    Endpoint("get", "/api/productions/{code}/shots/{shot}/", "view"),
    Endpoint("patch", "/api/productions/{code}/shots/{shot}/", "ingest"),
    Endpoint("get", "/api/productions/{code}/shots/{shot}/versions/", "view"),
    Endpoint("post", "/api/productions/{code}/shots/{shot}/versions/", "ingest"),
    Endpoint("post", "/api/productions/{code}/shots/{shot}/register/", "ingest"),
    Endpoint("get", "/api/productions/{code}/timelines/", "view"),
    Endpoint("post", "/api/productions/{code}/timelines/", "ingest"),
    Endpoint("get", "/api/productions/{code}/timelines/{timeline}/", "view"),
    Endpoint("get", "/api/versions/{version}/", "view"),
    Endpoint("post", "/api/assets/{asset}/retry/", "ingest"),
]


@pytest.fixture
def world(db):
    production = ProductionFactory()
    shot = ShotFactory(production=production)
    version = VersionFactory(shot=shot)
    original = default_storage.save(f"productions/{production.code}/tests/original.mov", ContentFile(b"not really a movie"))
    poster = default_storage.save(f"productions/{production.code}/tests/poster.jpg", ContentFile(b"\xff\xd8 poster"))
    proxy = default_storage.save(f"productions/{production.code}/tests/proxy.mp4", ContentFile(b"proxy bytes"))
    asset = MediaAsset.objects.create(version=version, original=original, original_name="original.mov",
                                      poster=poster, proxy=proxy, status=AssetStatus.FAILED,
                                      status_reason="test")
    someone = member(production, Role.VIEWER)
    timeline = TimelineImport.objects.create(production=production, file_name="reel1.edl", format="edl",
                                             sha256="0" * 64, fps_num=24, fps_den=1, handles=8, name_rule="auto",
                                             on_collision="refuse")
    return {
        "production": production,
        "values": {"code": production.code, "shot": shot.name, "version": version.pk, "asset": asset.pk,
                   "membership": someone.memberships.get().pk, "timeline": timeline.pk},
    }


def _call(client, endpoint, values):
    return getattr(client, endpoint.method)(endpoint.path.format(**values), content_type="application/json") \
        if endpoint.method in ("patch", "delete") else getattr(client, endpoint.method)(endpoint.path.format(**values))


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_an_outsider_gets_404_as_if_nothing_were_there(client, world, endpoint):
    # given the producer of another production
    outsider = member(ProductionFactory(), Role.PRODUCER)
    client.force_login(outsider)

    # when they call the endpoint with this production's identifiers
    response = _call(client, endpoint, world["values"])

    # then it is not found
    assert response.status_code == 404


@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if e.capability != "view"], ids=str)
def test_a_role_without_the_right_gets_403(client, world, endpoint):
    # given a member whose role lacks the capability
    lacking = next(role for role in ROLE_ORDER if role not in CAPABILITIES[endpoint.capability])
    client.force_login(member(world["production"], lacking))

    # when they call the endpoint
    response = _call(client, endpoint, world["values"])

    # then they are refused
    assert response.status_code == 403


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_a_role_with_the_right_is_let_through(client, world, endpoint):
    # given a member whose role holds the capability
    allowed = next(role for role in reversed(ROLE_ORDER) if role in CAPABILITIES[endpoint.capability])
    client.force_login(member(world["production"], allowed))

    # when they call the endpoint (with an empty body where it takes one)
    response = _call(client, endpoint, world["values"])

    # then the permission check passes: whatever the answer, it is not a refusal or a 404
    assert response.status_code not in (403, 404), response.content[:300]


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_anonymous_callers_are_sent_to_log_in(client, world, endpoint):
    # when someone who is not logged in calls the endpoint
    response = _call(client, endpoint, world["values"])

    # then pages redirect to the log-in page and the API answers 401
    if endpoint.path.startswith("/api/"):
        assert response.status_code == 401
    else:
        assert response.status_code == 302 and response["Location"].startswith("/login/")


@pytest.mark.django_db
def test_the_production_list_shows_only_the_users_productions(client):
    # given a user on one production and another production they are not on
    mine, theirs = ProductionFactory(title="Mine"), ProductionFactory(title="Theirs")
    user = member(mine, Role.VIEWER)
    client.force_login(user)

    # when they open the list page and the API
    page = client.get("/")
    api = client.get("/api/productions/").json()

    # then only their production appears
    assert b"Mine" in page.content and b"Theirs" not in page.content
    assert [p["code"] for p in api["results"]] == [mine.code]


@pytest.mark.django_db
def test_an_expired_or_revoked_membership_sees_nothing(client):
    from datetime import timedelta

    from django.utils import timezone

    # given one expired external reviewer and one revoked member
    production = ProductionFactory()
    expired = member(production, Role.VIEWER, expires_at=timezone.now() - timedelta(minutes=1))
    revoked = member(production, Role.SUPERVISOR, revoked_at=timezone.now())

    for user in (expired, revoked):
        client.force_login(user)
        # when they open the production, then it is not there for them
        assert client.get(f"/p/{production.code}/").status_code == 404
        assert client.get("/api/productions/").json()["results"] == []

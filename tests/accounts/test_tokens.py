"""API tokens: named, shown once, stored as hashes, expiring, revocable by their owner, audited."""
from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from answerprint.accounts.models import ApiToken
from answerprint.audit.models import AuditEvent
from tests.factories import UserFactory


def _make(client, user, name="nightly conform", **extra):
    client.force_login(user)
    response = client.post("/api/tokens/", {"name": name, **extra}, content_type="application/json")
    client.logout()
    return response


def _as_tool(client, key):
    return client.get("/api/productions/", HTTP_AUTHORIZATION=f"Token {key}")


@pytest.mark.django_db
def test_a_token_is_shown_once_and_only_its_hash_is_kept(client):
    # given a user who makes a token
    user = UserFactory()
    made = _make(client, user)

    # then the key is in that answer, nowhere in the database, and not in the list afterwards
    assert made.status_code == 201
    key = made.json()["key"]
    token = ApiToken.objects.get()
    assert key.startswith("ap_") and key not in str(list(ApiToken.objects.values_list()))
    assert token.name == "nightly conform" and token.expires_at > timezone.now() + timedelta(days=89)
    client.force_login(user)
    listed = client.get("/api/tokens/").json()
    assert [t["prefix"] for t in listed] == [key[:10]] and "key" not in listed[0]
    assert AuditEvent.objects.filter(action="api_token.created", actor=user).count() == 1


@pytest.mark.django_db
def test_a_token_signs_a_tool_in_until_it_expires_or_is_revoked(client):
    # given two tokens of one user
    user = UserFactory()
    expiring, revoked = _make(client, user, days=1).json(), _make(client, user, name="old laptop").json()

    # when both are used, then one expires, the other is revoked by its owner
    assert _as_tool(client, expiring["key"]).status_code == 200
    assert _as_tool(client, revoked["key"]).status_code == 200
    client.force_login(user)
    assert client.delete(f"/api/tokens/{revoked['id']}/").status_code == 204
    client.logout()

    # then neither signs anyone in any more, nor does a made-up key
    with mock.patch("django.utils.timezone.now", return_value=timezone.now() + timedelta(days=2)):
        assert _as_tool(client, expiring["key"]).status_code == 401
    assert _as_tool(client, revoked["key"]).status_code == 401
    assert _as_tool(client, "ap_" + "x" * 40).status_code == 401


@pytest.mark.django_db
def test_only_the_owner_may_list_or_revoke_a_token(client):
    owner, other = UserFactory(), UserFactory()
    token = _make(client, owner).json()
    client.force_login(other)
    assert client.get("/api/tokens/").json() == []
    assert client.delete(f"/api/tokens/{token['id']}/").status_code == 404
    assert ApiToken.objects.get().revoked_at is None


@pytest.mark.django_db
def test_uses_are_audited_in_aggregate(client):
    # given a token
    user = UserFactory()
    key = _make(client, user).json()["key"]

    # when a tool makes five calls, and three more a few minutes later
    for _ in range(5):
        _as_tool(client, key)
    with mock.patch("django.utils.timezone.now", return_value=timezone.now() + timedelta(minutes=5)):
        for _ in range(3):
            _as_tool(client, key)

    # then the log has one entry per minute with a use, the second counting the uses it covers
    events = list(AuditEvent.objects.filter(action="api_token.used").order_by("pk"))
    assert [event.after["uses_since_last_entry"] for event in events] == [1, 5]
    assert ApiToken.objects.get().uses == 8 and all(event.actor == user for event in events)

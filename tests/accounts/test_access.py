import pytest
from django.core.exceptions import ValidationError

from answerprint.accounts import services
from answerprint.accounts.models import Membership, Role
from answerprint.audit.models import AuditEvent
from tests.factories import PASSWORD, ProductionFactory, UserFactory, member


@pytest.mark.django_db
def test_logging_in_out_and_failing_are_audited(client):
    # given a user
    user = UserFactory()

    # when they fail once, log in, then log out
    client.post("/login/", {"username": user.username, "password": "wrong"})
    client.post("/login/", {"username": user.username, "password": PASSWORD})
    client.post("/logout/")

    # then each step is in the log, and the failed attempt names who was tried but not the password
    events = list(AuditEvent.objects.all())
    assert [e.action for e in events] == ["auth.login_failed", "auth.logged_in", "auth.logged_out"]
    assert events[0].after["username"] == user.username and "wrong" not in str(events[0].after)
    assert events[1].actor == user and events[1].ip == "127.0.0.1" and events[1].request_id


@pytest.mark.django_db
def test_a_producer_grants_changes_and_revokes_access_with_a_trail(client):
    # given a producer and a colleague who is not yet on the production
    production = ProductionFactory()
    producer = member(production, Role.PRODUCER)
    colleague = UserFactory()
    client.force_login(producer)
    url = f"/api/productions/{production.code}/members/"

    # when the producer adds the colleague as a viewer, promotes them, then revokes them
    added = client.post(url, {"username": colleague.username, "role": "viewer"}, content_type="application/json")
    promoted = client.post(url, {"username": colleague.username, "role": "supervisor", "reason": "Now VFX sup"},
                           content_type="application/json")
    revoked = client.delete(f"{url}{added.json()['id']}/?reason=Left+the+show")

    # then each change took effect and is audited with before and after
    assert (added.status_code, promoted.status_code, revoked.status_code) == (201, 201, 204)
    membership = Membership.objects.get(user=colleague)
    assert membership.role == Role.SUPERVISOR and membership.revoked_at is not None
    events = AuditEvent.objects.filter(action__startswith="membership.")
    assert [e.action for e in events] == ["membership.granted", "membership.changed", "membership.revoked"]
    assert events[1].before["role"] == "viewer" and events[1].after["role"] == "supervisor"
    assert events[1].reason == "Now VFX sup" and events[2].reason == "Left the show"
    assert all(e.actor_role == "producer" for e in events)


@pytest.mark.django_db
def test_granting_an_unknown_user_or_role_is_a_clear_400(client):
    production = ProductionFactory()
    client.force_login(member(production, Role.PRODUCER))
    url = f"/api/productions/{production.code}/members/"

    unknown_user = client.post(url, {"username": "nobody", "role": "viewer"}, content_type="application/json")
    unknown_role = client.post(url, {"username": UserFactory().username, "role": "director"},
                               content_type="application/json")

    assert unknown_user.status_code == 400 and "nobody" in unknown_user.json()["username"][0]
    assert unknown_role.status_code == 400 and "role" in unknown_role.json()


@pytest.mark.django_db
def test_only_staff_open_productions_and_the_opener_becomes_producer(client):
    # given a staff member and an ordinary user
    staff, ordinary = UserFactory(is_staff=True), UserFactory()
    body = {"code": "new-show", "title": "New Show", "fps_num": 24000, "fps_den": 1001}

    # when each tries to open a production
    client.force_login(ordinary)
    refused = client.post("/api/productions/", body, content_type="application/json")
    client.force_login(staff)
    opened = client.post("/api/productions/", body, content_type="application/json")

    # then only staff may, and they become its producer; both the production and the membership are audited
    assert refused.status_code == 403 and opened.status_code == 201
    assert opened.json()["role"] == "producer" and opened.json()["fps_den"] == 1001
    changes = AuditEvent.objects.exclude(action__startswith="auth.").values_list("action", flat=True)
    assert list(changes) == ["production.created", "membership.granted"]


@pytest.mark.django_db
def test_a_producer_renames_a_production_with_a_reason(client):
    production = ProductionFactory(title="Old")
    client.force_login(member(production, Role.PRODUCER))

    response = client.patch(f"/api/productions/{production.code}/", {"title": "New", "reason": "Retitled"},
                            content_type="application/json")

    assert response.status_code == 200 and response.json()["title"] == "New"
    event = AuditEvent.objects.get(action="production.updated")
    assert (event.before, event.after, event.reason) == ({"title": "Old"}, {"title": "New"}, "Retitled")


@pytest.mark.django_db
def test_granting_the_same_role_twice_is_refused():
    production = ProductionFactory()
    user = member(production, Role.EDITOR)
    with pytest.raises(ValidationError, match="already"):
        services.add_member(actor=None, production=production, user=user, role=Role.EDITOR)

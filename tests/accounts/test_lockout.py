"""Guessing passwords is stopped: per account and per address, at every door, with a cool-down."""
from datetime import timedelta
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from answerprint.audit.models import AuditEvent
from answerprint.fixes.signatures import check_credentials
from tests.factories import PASSWORD, UserFactory


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.LOGIN_ACCOUNT_FAILURE_LIMIT = 5
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 20
    settings.LOGIN_COOLDOWN_SECONDS = 900


def _log_in(client, username, password, *, path="/login/", address="127.0.0.1"):
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=address)


def _later(seconds):
    return mock.patch("django.utils.timezone.now", return_value=timezone.now() + timedelta(seconds=seconds))


@pytest.mark.django_db
def test_five_wrong_passwords_lock_the_account_even_against_the_right_one(client):
    # given a user whose password has been guessed wrong five times
    user = UserFactory()
    statuses = [_log_in(client, user.username, "wrong").status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 200, 429]  # the fifth answer already says the account is locked

    # when the right password comes next
    response = _log_in(client, user.username, PASSWORD)

    # then it is refused with the reason and when to try again, and nobody is logged in
    assert response.status_code == 429
    assert "Too many wrong passwords" in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_the_lock_ends_after_the_cool_down_and_a_correct_log_in_clears_the_count(client):
    # given a locked account
    user = UserFactory()
    for _ in range(5):
        _log_in(client, user.username, "wrong")

    # when the cool-down has passed and the right password is given
    with _later(901):
        response = _log_in(client, user.username, PASSWORD)
        client.post("/logout/")
        # then it logs in, and one wrong password afterwards does not lock again
        assert response.status_code == 302
        assert _log_in(client, user.username, "wrong").status_code == 200
        assert _log_in(client, user.username, PASSWORD).status_code == 302


@pytest.mark.django_db
def test_one_address_guessing_many_names_is_locked_out_but_other_addresses_are_not(client):
    # given one address that tried 20 different names (never five on one)
    for number in range(20):
        _log_in(client, f"guess{number}", "wrong", address="203.0.113.9")
    user = UserFactory()

    # when a real user's right password comes from that address, and from another
    from_attacker = _log_in(client, user.username, PASSWORD, address="203.0.113.9")
    from_elsewhere = _log_in(client, user.username, PASSWORD, address="198.51.100.7")

    # then the attacker's address is refused and the other logs in
    assert from_attacker.status_code == 429
    assert from_elsewhere.status_code == 302


@pytest.mark.django_db
def test_the_admin_log_in_counts_towards_the_same_lock(client):
    # given five wrong passwords at the admin log-in
    staff = UserFactory(is_staff=True, is_superuser=True)
    for _ in range(5):
        _log_in(client, staff.username, "wrong", path="/admin/login/")

    # when the right password is given at the admin and at the log-in page
    admin = _log_in(client, staff.username, PASSWORD, path="/admin/login/")
    page = _log_in(client, staff.username, PASSWORD)

    # then both refuse, and the admin says why
    assert "Too many wrong passwords" in admin.content.decode() and "_auth_user_id" not in client.session
    assert page.status_code == 429


@pytest.mark.django_db
def test_a_lock_from_the_log_in_page_holds_for_the_signing_password_and_the_other_way_round(client):
    # given one user locked out at the log-in page, and another who mistyped the signing password five times
    locked_at_login, locked_at_signing = UserFactory(), UserFactory()
    for _ in range(5):
        _log_in(client, locked_at_login.username, "wrong")
        with pytest.raises(ValidationError):
            check_credentials(locked_at_signing, "wrong")

    # when the first signs with the right password, and the second logs in with it
    with pytest.raises(ValidationError, match="Too many wrong passwords"):
        check_credentials(locked_at_login, PASSWORD)
    response = _log_in(client, locked_at_signing.username, PASSWORD)

    # then both are refused
    assert response.status_code == 429


@pytest.mark.django_db
def test_a_flood_of_guesses_leaves_a_handful_of_audit_events_with_the_running_total(client):
    # given a user
    user = UserFactory()

    # when 120 wrong passwords are tried for them from one address
    for _ in range(120):
        _log_in(client, user.username, "wrong")

    # then the log holds the first failure, the locks and the milestones, not 120 events
    events = list(AuditEvent.objects.filter(action="auth.login_failed").order_by("occurred_at", "pk"))
    assert [event.after["account_failures"] for event in events] == [1, 5, 10, 20, 100]
    assert events[1].after["locked_until"] and events[0].after["locked_until"] is None
    assert all(event.after["username"] == user.username and "wrong" not in str(event.after) for event in events)
    assert {event.after["where"] for event in events} == {"login"}

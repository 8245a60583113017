"""Setting up, using and resetting the authenticator that signing asks for."""
import re

import pyotp
import pytest
from django.core.exceptions import ValidationError

from answerprint.accounts import mfa
from answerprint.accounts.models import RecoveryCode, TotpDevice
from answerprint.audit.models import AuditEvent
from tests.factories import PASSWORD, UserFactory, enrol_authenticator


@pytest.fixture(autouse=True)
def _fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.mark.django_db
def test_a_user_sets_up_an_authenticator_from_the_page_and_gets_recovery_codes(client):
    # given a signed-in user
    user = UserFactory()
    client.force_login(user)

    # when they start, scan the key and type the code it shows
    started = client.post("/account/two-step/", {"action": "start"}).content.decode()
    secret = re.search(r"data-totp-secret>([A-Z2-7 ]+)<", started).group(1).replace(" ", "")
    confirmed = client.post("/account/two-step/", {"action": "confirm", "code": pyotp.TOTP(secret).now()})

    # then the QR code was shown, the device is on, and ten recovery codes are shown once
    assert "<svg" in started
    assert TotpDevice.objects.get(user=user).confirmed_at is not None
    codes = re.findall(r"<li>([0-9a-f]{6}-[0-9a-f]{6})</li>", confirmed.content.decode())
    assert len(codes) == 10 and RecoveryCode.objects.filter(user=user).count() == 10
    assert codes[0] not in str(list(RecoveryCode.objects.values_list("code_hash", flat=True)))
    assert AuditEvent.objects.get(action="mfa.enrolled").actor == user
    assert codes[0] not in client.get("/account/two-step/").content.decode()  # shown once only


@pytest.mark.django_db
def test_a_wrong_code_does_not_turn_it_on(client):
    user = UserFactory()
    client.force_login(user)
    client.post("/account/two-step/", {"action": "start"})
    response = client.post("/account/two-step/", {"action": "confirm", "code": "000000"})
    assert "not the one your authenticator shows" in response.content.decode()
    assert TotpDevice.objects.get(user=user).confirmed_at is None


@pytest.mark.django_db
def test_a_code_is_accepted_once_and_a_recovery_code_once():
    # given a user with an authenticator and recovery codes
    user = UserFactory()
    secret = enrol_authenticator(user)
    codes = mfa._new_recovery_codes(user)

    # when the current code is given twice, and one recovery code twice
    code = pyotp.TOTP(secret).now()
    first, replay = mfa.check_second_factor(user, code), mfa.check_second_factor(user, code)
    recovered, again = mfa.check_second_factor(user, codes[0]), mfa.check_second_factor(user, codes[0])

    # then each works only the first time
    assert (first, replay) == ("totp", None)
    assert (recovered, again) == ("recovery_code", None)
    assert AuditEvent.objects.get(action="mfa.recovery_code_used").after == {"recovery_codes_left": 9}


@pytest.mark.django_db
def test_resetting_needs_the_password_and_a_code(client):
    # given a user with an authenticator and recovery codes
    user = UserFactory()
    enrol_authenticator(user)
    codes = mfa._new_recovery_codes(user)
    client.force_login(user)

    # when they reset with a wrong password, then with the password and a recovery code
    refused = client.post("/account/two-step/", {"action": "reset", "password": "wrong", "code": codes[1]})
    assert TotpDevice.objects.filter(user=user).exists() and "not correct" in refused.content.decode()
    client.post("/account/two-step/", {"action": "reset", "password": PASSWORD, "code": codes[1],
                                       "reason": "new phone"})

    # then the authenticator and its codes are gone, on the record
    assert not TotpDevice.objects.filter(user=user).exists() and not RecoveryCode.objects.filter(user=user).exists()
    event = AuditEvent.objects.get(action="mfa.reset")
    assert event.after == {"proven_with": ["password", "recovery_code"]} and event.reason == "new phone"


@pytest.mark.django_db
def test_staff_remove_a_lost_authenticator_with_a_reason_and_nobody_else_may():
    # given a user who lost their phone and codes, a colleague, and studio staff
    user, colleague, staff = UserFactory(), UserFactory(), UserFactory(is_staff=True)
    enrol_authenticator(user)

    # when the colleague tries, then staff without a reason, then staff with one
    with pytest.raises(ValidationError, match="Only studio staff"):
        mfa.remove_second_factor_for(actor=colleague, user=user, reason="asked nicely")
    with pytest.raises(ValidationError, match="Say why"):
        mfa.remove_second_factor_for(actor=staff, user=user, reason="")
    mfa.remove_second_factor_for(actor=staff, user=user, reason="ID checked on a video call")

    # then the authenticator is gone, on the record with who and why
    assert not TotpDevice.objects.filter(user=user).exists()
    event = AuditEvent.objects.get(action="mfa.reset")
    assert event.actor == staff and event.reason == "ID checked on a video call"

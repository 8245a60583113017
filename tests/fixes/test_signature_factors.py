"""A signature needs the password and a second factor, and its audit event names both."""
import pytest
from django.core.exceptions import ValidationError

from answerprint.accounts import mfa
from answerprint.accounts.models import TotpDevice
from answerprint.audit.models import AuditEvent
from answerprint.fixes.models import Decision
from tests.factories import enrol_authenticator


@pytest.fixture
def proposal(world, tmp_path):
    return world.propose(world.removal(), tmp_path)


def test_a_signer_without_an_authenticator_cannot_sign_with_the_password_alone(world, proposal):
    # given a producer who never set up an authenticator
    assert not TotpDevice.objects.filter(user=world.producer).exists()

    # when they sign with the right password (and whatever code), then they are sent to set one up
    with pytest.raises(ValidationError, match="Set up an authenticator"):
        world.sign(proposal, world.producer, second_factor="123456")
    assert not Decision.objects.exists()


def test_the_right_password_with_a_wrong_or_missing_code_signs_nothing(world, proposal):
    enrol_authenticator(world.producer)
    for code in ("", "000000"):
        with pytest.raises(ValidationError, match="second-factor code is not correct"):
            world.sign(proposal, world.producer, second_factor=code)
    assert not Decision.objects.exists()


def test_the_signatures_event_records_the_factors_used(world, proposal, tmp_path):
    # given a second proposal, and a recovery code of the second producer
    other = world.propose(world.removal(), tmp_path, content=b"other proposal")
    enrol_authenticator(world.second_producer)
    recovery = mfa._new_recovery_codes(world.second_producer)[0]

    # when one producer signs with their authenticator and the other with a recovery code
    world.sign(proposal, world.producer)
    world.sign(other, world.second_producer, second_factor=recovery)

    # then each signature's event says which factors proved the signer
    factors = {event.actor: event.after["factors"] for event in AuditEvent.objects.filter(action="proposal.signed")}
    assert factors == {world.producer: ["password", "totp"], world.second_producer: ["password", "recovery_code"]}

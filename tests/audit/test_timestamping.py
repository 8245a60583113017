import socket
from datetime import datetime, timedelta, timezone

import pytest
from asn1crypto import cms, core, tsp
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from answerprint.audit.local_tsa import LocalTimestampAuthority
from answerprint.audit.timestamping import (
    TimestampError,
    TimeStampResp,
    request_token,
    signer_certificate_pem,
    timestamping_config,
    verify_token,
)

PAYLOAD = b'{"checkpoint":7,"root":"' + b"ab" * 32 + b'"}'
POLICY = "1.3.6.1.4.1.99999.7"


@pytest.fixture
def tsa():
    return LocalTimestampAuthority(policy=POLICY)


@pytest.fixture
def token(tsa):
    with tsa.serve() as url:
        return request_token(PAYLOAD, url)


def flip_byte(data, offset):
    return data[:offset] + bytes([data[offset] ^ 0x01]) + data[offset + 1:]


def signer_info_of(token):
    return cms.ContentInfo.load(token)["content"]["signer_infos"][0]


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ReplayingTimestampAuthority(LocalTimestampAuthority):
    """Answers every request with its first response, as a broken cache or an attacker might."""

    first_response = None

    def sign(self, request_der):
        if self.first_response is None:
            self.first_response = super().sign(request_der)
        return self.first_response


class FailingTimestampAuthority(LocalTimestampAuthority):
    def sign(self, request_der):
        raise RuntimeError("signing module offline")


class WrongDataTimestampAuthority(LocalTimestampAuthority):
    """Stamps the hash of something else than it was sent."""

    def sign(self, request_der):
        request = tsp.TimeStampReq.load(request_der)
        request["message_imprint"]["hashed_message"] = b"\x00" * 32
        return super().sign(request.dump())


def test_a_token_from_the_http_tsa_verifies_with_the_tsa_time_subject_and_policy(tsa):
    # given a local TSA served over HTTP
    with tsa.serve() as url:
        # when a payload is timestamped twice
        before = datetime.now(timezone.utc)
        first = request_token(PAYLOAD, url)
        second = request_token(PAYLOAD, url)

    # then each token verifies against the TSA's certificate and tells when, who and under what policy
    info = verify_token(first, PAYLOAD, trusted_certs=[tsa.certificate_pem])
    assert info.gen_time.tzinfo == timezone.utc
    assert abs(info.gen_time - before) < timedelta(seconds=5)
    assert info.tsa == tsa.subject == "O=Answerprint,CN=Answerprint local TSA"
    assert info.policy == POLICY
    assert info.hash_name == "sha256"
    # and serials increase from one token to the next
    assert verify_token(second, PAYLOAD).serial == info.serial + 1


@pytest.mark.parametrize("key_type", ["ec", "rsa", "ed25519"])
def test_tokens_signed_with_each_supported_key_type_verify(key_type):
    # given a TSA with an EC, RSA or Ed25519 key
    tsa = LocalTimestampAuthority(key_type=key_type)

    # when it timestamps a payload
    with tsa.serve() as url:
        token = request_token(PAYLOAD, url)

    # then the token verifies and names that TSA
    assert verify_token(token, PAYLOAD, trusted_certs=[tsa.certificate_pem]).tsa == tsa.subject


def test_a_token_checked_against_other_data_is_refused_naming_the_imprint(token):
    # given a token for PAYLOAD
    # when it is checked against different bytes, then it is refused on its message imprint
    with pytest.raises(TimestampError, match="does not cover this data: its message imprint is sha256:"):
        verify_token(token, PAYLOAD + b" ")


def test_a_token_with_one_byte_changed_in_its_tstinfo_is_refused(token):
    # given a token whose TSTInfo policy OID has one byte changed (still a valid OID, so it parses)
    policy_der = core.ObjectIdentifier(POLICY).dump()
    offset = token.index(policy_der) + len(policy_der) - 1
    tampered = flip_byte(token, offset)

    # when it is verified, then the signed messageDigest gives the change away
    with pytest.raises(TimestampError, match="messageDigest does not match its TSTInfo"):
        verify_token(tampered, PAYLOAD)


def test_a_token_with_one_byte_changed_in_its_signature_is_refused(token):
    # given a token whose signature has its last byte changed
    signature = signer_info_of(token)["signature"].native
    offset = token.index(signature) + len(signature) - 1
    tampered = flip_byte(token, offset)

    # when it is verified, then the signature check refuses it
    with pytest.raises(TimestampError, match="signature does not verify with its TSA certificate"):
        verify_token(tampered, PAYLOAD)


def test_a_token_from_another_tsa_is_refused_as_untrusted(token, tsa):
    # given a token from one TSA, and the certificate of a different TSA that we trust
    other = LocalTimestampAuthority(common_name="Some other TSA")

    # when it is verified against only the other TSA, then it is refused as untrusted, naming its signer
    with pytest.raises(TimestampError, match="untrusted TSA certificate: O=Answerprint,CN=Answerprint local TSA"):
        verify_token(token, PAYLOAD, trusted_certs=[other.certificate_pem])
    # and trusting nobody refuses it too
    with pytest.raises(TimestampError, match="untrusted"):
        verify_token(token, PAYLOAD, trusted_certs=[])


def test_trusted_certificates_may_be_der_or_a_pem_bundle(token, tsa):
    # given the TSA's certificate as DER, and inside a PEM bundle after another certificate
    der = x509.load_pem_x509_certificate(tsa.certificate_pem).public_bytes(serialization.Encoding.DER)
    bundle = LocalTimestampAuthority().certificate_pem + tsa.certificate_pem

    # then either form is trusted
    assert verify_token(token, PAYLOAD, trusted_certs=[der]).tsa == tsa.subject
    assert verify_token(token, PAYLOAD, trusted_certs=[bundle]).tsa == tsa.subject


def test_the_signer_certificate_can_be_taken_from_a_token_to_pin_it(token, tsa):
    assert signer_certificate_pem(token) == tsa.certificate_pem


def test_bytes_that_are_not_a_token_are_refused():
    with pytest.raises(TimestampError, match="not a DER CMS ContentInfo"):
        verify_token(b"not a token", PAYLOAD)


def test_an_unreachable_tsa_gives_a_clear_error():
    # given a port nothing listens on
    url = f"http://127.0.0.1:{free_port()}/"

    # when a token is requested from it, then the error says the TSA is unreachable
    with pytest.raises(TimestampError, match=f"TSA at {url} is unreachable: .*refused"):
        request_token(PAYLOAD, url, timeout=2)


def test_a_tsa_that_does_not_answer_in_time_gives_a_clear_error():
    # given a server that accepts connections and never answers
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/"

        # when a token is requested with a short timeout, then the error says it timed out
        with pytest.raises(TimestampError, match=rf"TSA at {url} did not answer within 0\.2 s"):
            request_token(PAYLOAD, url, timeout=0.2)


def test_only_http_urls_are_used():
    with pytest.raises(TimestampError, match="is not an http\\(s\\) URL"):
        request_token(PAYLOAD, "file:///etc/passwd")


def test_an_http_error_from_the_tsa_gives_a_clear_error(caplog):
    # given a TSA whose signing fails, so its server answers 500
    with FailingTimestampAuthority().serve() as url:
        # when a token is requested, then the error gives the HTTP status
        with pytest.raises(TimestampError, match=f"TSA at {url} answered HTTP 500"):
            request_token(PAYLOAD, url)
    assert "signing module offline" in caplog.text


def test_a_rejection_gives_the_pki_status_and_fail_info():
    # given a TSA that stamps only SHA-512 imprints
    with LocalTimestampAuthority(accepted_hashes={"sha512"}).serve() as url:
        # when a SHA-256 imprint is sent, then the error carries the status, failInfo and the TSA's text
        with pytest.raises(TimestampError) as refused:
            request_token(PAYLOAD, url)
        # and the same TSA stamps a SHA-512 imprint
        assert verify_token(request_token(PAYLOAD, url, hash_name="sha512"), PAYLOAD).hash_name == "sha512"
    assert str(refused.value) == (
        f'TSA at {url} did not grant the timestamp: PKIStatus rejection '
        f'(failInfo badAlg; "hash sha256 is not accepted").'
    )


def test_a_replayed_response_is_refused_on_its_nonce():
    # given a TSA that answers every request with its first response
    with ReplayingTimestampAuthority().serve() as url:
        request_token(PAYLOAD, url)

        # when the same payload is timestamped again, then the stale nonce gives the replay away
        with pytest.raises(TimestampError, match=r"answered with nonce \d+, we sent nonce \d+: .*replayed"):
            request_token(PAYLOAD, url)


def test_a_token_for_other_data_is_refused_when_requested():
    # given a TSA that stamps a hash other than the one it was sent
    with WrongDataTimestampAuthority().serve() as url:
        # when a token is requested, then it is refused on its imprint
        with pytest.raises(TimestampError, match="fails verification: timestamp token does not cover this data"):
            request_token(PAYLOAD, url)


def test_the_local_tsa_rejects_a_malformed_request_as_bad_data_format(tsa):
    # when the local TSA is sent bytes that are no TimeStampReq
    response = TimeStampResp.load(tsa.sign(b"\x30\x03garbage"))

    # then it answers a rejection with failInfo badDataFormat instead of failing
    assert response["status"]["status"].native == "rejection"
    assert response["status"]["fail_info"].native == {"bad_data_format"}
    assert not response["time_stamp_token"]


def test_the_local_tsa_certificate_is_for_timestamping_only(tsa):
    certificate = x509.load_pem_x509_certificate(tsa.certificate_pem)
    usage = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert usage.critical
    assert list(usage.value) == [x509.ExtendedKeyUsageOID.TIME_STAMPING]


def test_the_configuration_comes_from_settings(settings, tsa, tmp_path):
    # given settings naming the TSA and its certificate
    certificate_path = tmp_path / "tsa.pem"
    certificate_path.write_bytes(tsa.certificate_pem)
    with tsa.serve() as url:
        settings.AUDIT_TSA_URL = url
        settings.AUDIT_TSA_CERTIFICATES = [str(certificate_path)]
        settings.AUDIT_TSA_TIMEOUT = 3

        # when the configuration is read and used
        config = timestamping_config()
        token = config.request(PAYLOAD)

    # then it timestamps and verifies against the pinned certificate
    assert config.enabled and config.timeout == 3
    assert config.verify(token, PAYLOAD).policy == POLICY


def test_without_settings_timestamping_is_off(settings):
    for name in ("AUDIT_TSA_URL", "AUDIT_TSA_CERTIFICATES", "AUDIT_TSA_TIMEOUT"):
        if hasattr(settings, name):
            delattr(settings, name)

    config = timestamping_config()

    assert not config.enabled
    assert config.trusted_certs is None

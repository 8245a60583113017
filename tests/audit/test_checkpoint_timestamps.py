"""RFC 3161 timestamps on signed checkpoints, against a timestamp authority served locally."""
import logging
import shutil
import subprocess
from datetime import timedelta

import pytest
from django.db import connection

from answerprint.audit import protection
from answerprint.audit.local_tsa import LocalTimestampAuthority
from answerprint.audit.models import Checkpoint
from answerprint.audit.selectors import timestamp_of, verify_log
from answerprint.audit.services import create_checkpoint, record_event, seal_pending

from .test_exports import export, verify


@pytest.fixture(scope="module")
def authority():
    tsa = LocalTimestampAuthority(common_name="Answerprint test TSA")
    with tsa.serve() as url:
        yield tsa, url


@pytest.fixture
def timestamped(settings, authority, tmp_path):
    """Settings that timestamp every checkpoint with the local authority and trust only it."""
    tsa, url = authority
    certificate = tmp_path / "tsa.pem"
    certificate.write_bytes(tsa.certificate_pem)
    settings.AUDIT_TSA_URL = url
    settings.AUDIT_TSA_CERTIFICATES = [str(certificate)]
    return tsa


def events(n):
    for i in range(n):
        record_event(f"test.step{i}", after={"i": i})
    seal_pending()


@pytest.mark.django_db
def test_a_checkpoint_carries_a_token_that_verification_checks(timestamped):
    # given a timestamp authority and some events
    events(3)

    # when a checkpoint is signed
    checkpoint = create_checkpoint()

    # then it carries a token from that authority, from the moment it was signed
    assert checkpoint.timestamp_token
    tsa, time = timestamp_of(checkpoint)
    assert "Answerprint test TSA" in tsa
    assert abs(time - checkpoint.created_at) < timedelta(seconds=30)
    # and verification checks it
    report = verify_log()
    assert report.ok and (report.checkpoints_checked, report.timestamps_checked) == (1, 1)


@pytest.mark.django_db
def test_a_token_from_an_authority_nobody_trusts_is_named(timestamped, settings, tmp_path):
    # given a checkpoint timestamped by the local authority
    events(2)
    create_checkpoint()

    # when verification trusts another authority only
    stranger = tmp_path / "stranger.pem"
    stranger.write_bytes(LocalTimestampAuthority(common_name="Someone else").certificate_pem)
    settings.AUDIT_TSA_CERTIFICATES = [str(stranger)]
    report = verify_log()

    # then the checkpoint's token is refused, by name
    assert not report.ok and report.broken_checkpoint == 1
    assert "timestamp token does not verify" in report.problem and "trust" in report.problem


@pytest.mark.django_db
def test_a_changed_byte_in_a_token_is_caught(timestamped):
    # given a timestamped checkpoint whose token is rewritten behind the triggers' back
    events(2)
    checkpoint = create_checkpoint()
    token = bytearray(checkpoint.timestamp_token)
    token[-40] ^= 0x01
    protection.remove(connection)
    try:
        Checkpoint.objects.filter(pk=checkpoint.pk).update(timestamp_token=bytes(token))
    finally:
        protection.install(connection)

    # when the log is verified, then the checkpoint is named
    report = verify_log()
    assert not report.ok and report.broken_checkpoint == 1
    assert "checkpoint 1: its timestamp token does not verify" in report.problem


@pytest.mark.django_db
def test_an_authority_that_does_not_answer_does_not_stop_signing(settings, caplog):
    # given a timestamp authority nobody listens for
    settings.AUDIT_TSA_URL = "http://127.0.0.1:9/"
    settings.AUDIT_TSA_TIMEOUT = 2
    events(2)

    # when a checkpoint is signed
    with caplog.at_level(logging.ERROR, logger="answerprint.audit.services"):
        checkpoint = create_checkpoint()

    # then it is signed without a token, the failure is logged, and the log still verifies
    assert checkpoint is not None and checkpoint.timestamp_token is None
    assert "checkpoint 1 is signed without a timestamp" in caplog.text
    assert verify_log().ok


@pytest.mark.django_db
def test_an_export_carries_the_tokens_and_openssl_accepts_them(timestamped, tmp_path):
    # given a timestamped checkpoint and an export of the log
    events(3)
    create_checkpoint()
    path = export(tmp_path)

    # when the offline verifier writes out the timestamps
    code, output = verify(path)
    assert code == 0 and "carry an RFC 3161 timestamp token" in output
    folder = tmp_path / "stamps"
    code, output = verify(path, options=("--timestamps", str(folder)))
    assert code == 0 and (folder / "checkpoint-1.tsr").exists()

    # then OpenSSL verifies each token against the authority's certificate
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    certificate = tmp_path / "tsa.pem"
    done = subprocess.run(["openssl", "ts", "-verify", "-token_in", "-in", str(folder / "checkpoint-1.tsr"),
                           "-data", str(folder / "checkpoint-1.sig"), "-CAfile", str(certificate)],
                          capture_output=True, text=True, timeout=60)
    assert "Verification: OK" in done.stdout, done.stdout + done.stderr

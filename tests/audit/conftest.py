import pytest

from answerprint.audit.signing import ensure_signing_key


@pytest.fixture(autouse=True)
def audit_signing_key(settings, tmp_path):
    """Each test signs with its own fresh Ed25519 key, never the installation's."""
    path = tmp_path / "audit-signing-key.pem"
    ensure_signing_key(path)
    settings.AUDIT_SIGNING_KEY_FILE = path
    settings.AUDIT_TRUSTED_PUBLIC_KEYS = []
    return path

"""The Ed25519 key that signs checkpoints and export manifests.

The private key lives in a PEM file outside the database (`AUDIT_SIGNING_KEY_FILE`); anyone who
holds only the public key can check a signature, which is the point: an auditor trusts the key,
not our database.
"""
import hashlib
import os
from functools import lru_cache
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def ensure_signing_key(path):
    """Create an Ed25519 key at `path` (readable by its owner only) unless one is there."""
    path = Path(path)
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    # O_EXCL: two processes starting at once must not each write a different key.
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    return True


@lru_cache(maxsize=4)
def _load(path):
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ImproperlyConfigured(
            f"No audit signing key at {path}. Run `manage.py serve_local` once, or set "
            f"AUDIT_SIGNING_KEY_FILE to an Ed25519 private key in PEM."
        ) from None
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ImproperlyConfigured(f"{path} is not an Ed25519 private key.")
    return key


def signing_key():
    return _load(str(settings.AUDIT_SIGNING_KEY_FILE))


def public_key_hex(key=None):
    key = key or signing_key()
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def key_id(public_hex):
    """A short name for a public key: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(bytes.fromhex(public_hex)).hexdigest()[:16]


def sign(data):
    """(signature hex, public key hex) for `data`."""
    key = signing_key()
    return key.sign(data).hex(), public_key_hex(key)


def trusted_public_keys():
    """The current key and any earlier ones still trusted after a rotation."""
    keys = {public_key_hex()}
    keys.update(k.lower() for k in getattr(settings, "AUDIT_TRUSTED_PUBLIC_KEYS", []))
    return keys

"""C2PA Content Credentials on delivered media: what was changed by a model, declared on the file.

Each credential says the source was opened (`c2pa.opened`, the source as the parent ingredient,
with its sha256) and edited by a trained model (`c2pa.edited`, digitalSourceType
compositeWithTrainedAlgorithmicMedia), with the fix kind, the model card's hash and the people
who approved it, with the time they signed. It is signed with the production's key and
certificate chain (a private CA; the library refuses a self-signed leaf) after the final encode,
since re-encoding would break the hash that binds the manifest to the file.

Nothing here touches the database or storage: callers pass local paths.
"""
import datetime
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

log = logging.getLogger(__name__)

COMPOSITE_WITH_TRAINED_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"
DELIVERY_ASSERTION = "com.answerprint.delivery"
# The formats C2PA binds to that deliveries use; everything else is covered by a sidecar.
MIME_TYPES = {".mov": "video/quicktime", ".mp4": "video/mp4", ".png": "image/png", ".jpg": "image/jpeg",
              ".jpeg": "image/jpeg", ".tif": "image/tiff", ".tiff": "image/tiff"}


class ProvenanceError(Exception):
    """Content credentials could not be written or read: the reason."""


@dataclass(frozen=True)
class Credentials:
    """What goes into a delivered file's manifest."""

    title: str
    fix_kind: str
    model: str
    model_card_sha256: str
    source_name: str
    source_sha256: str
    approvals: list  # [{"printed_name", "meaning", "signed_at"}]
    delivery: dict  # shot, versions, range: the package's own identity


def mime_type(path) -> str | None:
    return MIME_TYPES.get(Path(path).suffix.lower())


# ---------------------------------------------------------------------------------------------
# Keys: the production's, or a development CA made on first use


def _development_chain() -> tuple[Path, Path, Path]:
    """(key, chain, CA certificate) under C2PA_DEVELOPMENT_DIR, made once: an ECDSA P-256 CA
    and a claim-signing leaf it issued. For development and tests only."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    folder = Path(settings.C2PA_DEVELOPMENT_DIR)
    key_path, chain_path, ca_path = folder / "signing-key.pem", folder / "chain.pem", folder / "ca.pem"
    if key_path.is_file() and chain_path.is_file() and ca_path.is_file():
        return key_path, chain_path, ca_path
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Answerprint development"),
                         x509.NameAttribute(NameOID.COMMON_NAME, "Answerprint development CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=3650))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf_name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Answerprint development"),
                           x509.NameAttribute(NameOID.COMMON_NAME, "Answerprint development delivery signer")])
    leaf = (x509.CertificateBuilder().subject_name(leaf_name).issuer_name(ca_name)
            .public_key(leaf_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=825))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=False, crl_sign=False,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    ca_path.write_bytes(ca.public_bytes(pem))
    chain_path.write_bytes(leaf.public_bytes(pem) + ca.public_bytes(pem))
    descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as stream:
        stream.write(leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    log.warning("Made a development C2PA certificate chain under %s: set C2PA_SIGNING_KEY_FILE and "
                "C2PA_CERTIFICATE_CHAIN_FILE for production.", folder)
    return key_path, chain_path, ca_path


def signing_material() -> tuple[bytes, bytes]:
    """(private key PEM, certificate chain PEM, leaf first) that sign this installation's deliveries."""
    key_file, chain_file = settings.C2PA_SIGNING_KEY_FILE, settings.C2PA_CERTIFICATE_CHAIN_FILE
    if bool(key_file) != bool(chain_file):
        raise ProvenanceError("Set both C2PA_SIGNING_KEY_FILE and C2PA_CERTIFICATE_CHAIN_FILE, or neither.")
    if not key_file:
        key_file, chain_file, _ = _development_chain()
    try:
        return Path(key_file).read_bytes(), Path(chain_file).read_bytes()
    except OSError as error:
        raise ProvenanceError(f"The C2PA signing key or chain cannot be read: {error}") from error


def trust_anchors() -> bytes:
    """The CA certificates a reader here trusts: the development CA when no chain is configured,
    else the last certificate of the configured chain (its root)."""
    if not settings.C2PA_CERTIFICATE_CHAIN_FILE:
        return _development_chain()[2].read_bytes()
    chain = Path(settings.C2PA_CERTIFICATE_CHAIN_FILE).read_bytes()
    marker = b"-----BEGIN CERTIFICATE-----"
    return marker + chain.split(marker)[-1]


# ---------------------------------------------------------------------------------------------
# Writing and reading


def manifest_definition(credentials: Credentials, media_type: str) -> dict:
    agent = {"name": credentials.model or "Answerprint fix model"}
    return {
        "claim_generator_info": [{"name": "Answerprint", "version": "1"}],
        "title": credentials.title,
        "format": media_type,
        "assertions": [
            {"label": "c2pa.actions.v2", "data": {"actions": [
                {"action": "c2pa.opened", "parameters": {"ingredientIds": ["source"]},
                 "description": f"The camera original {credentials.source_name}"},
                {"action": "c2pa.edited", "digitalSourceType": COMPOSITE_WITH_TRAINED_MEDIA, "softwareAgent": agent,
                 "description": f"{credentials.fix_kind} by a model fitted to this production's footage, "
                                f"approved by {', '.join(a['printed_name'] for a in credentials.approvals)}",
                 "parameters": {"fix_kind": credentials.fix_kind,
                                "model_card_sha256": credentials.model_card_sha256,
                                "approvals": credentials.approvals}},
            ]}},
            {"label": DELIVERY_ASSERTION, "data": {
                **credentials.delivery, "fix_kind": credentials.fix_kind,
                "model_card_sha256": credentials.model_card_sha256,
                "source": {"name": credentials.source_name, "sha256": credentials.source_sha256},
                "approvals": credentials.approvals}},
        ],
    }


def _signer():
    import c2pa

    key, chain = signing_material()
    info = c2pa.C2paSignerInfo(alg=b"es256", sign_cert=chain, private_key=key, ta_url=None)
    return c2pa.Signer.from_info(info)


def sign_file(path, credentials: Credentials, *, ingredient=None, sidecar=None) -> bytes:
    """Embed signed content credentials in `path` (rewritten in place); `ingredient` is a local
    file in a C2PA format standing for the source (the source itself when it is one). With
    `sidecar`, the manifest store is also written there. Returns the manifest store's bytes."""
    import c2pa

    path = Path(path)
    media_type = mime_type(path)
    if media_type is None:
        raise ProvenanceError(f"C2PA cannot carry credentials in a {path.suffix} file.")
    builder = c2pa.Builder(json.dumps(manifest_definition(credentials, media_type)))
    signed = path.with_name(f".signing-{path.name}")
    try:
        if ingredient is not None and mime_type(ingredient):
            with open(ingredient, "rb") as stream:
                builder.add_ingredient({"title": credentials.source_name, "relationship": "parentOf",
                                        "label": "source"}, mime_type(ingredient), stream)
        with _signer() as signer, open(path, "rb") as source, open(signed, "w+b") as destination:
            manifest = builder.sign(signer, media_type, source, destination)
        os.replace(signed, path)
    except c2pa.C2paError as error:
        raise ProvenanceError(f"Content credentials could not be signed into {path.name}: {error}") from error
    finally:
        builder.close()
        if signed.exists():
            signed.unlink()
    if sidecar is not None:
        Path(sidecar).write_bytes(manifest)
    return manifest


@dataclass(frozen=True)
class ReadBack:
    """A file's credentials as a reader sees them: the active manifest and the validation state."""

    state: str  # "Trusted", "Valid" or "Invalid"
    manifest: dict
    failures: list  # validation status codes that are failures

    def assertion(self, label):
        return next((a["data"] for a in self.manifest.get("assertions", []) if a.get("label") == label), None)


def read_credentials(path) -> ReadBack:
    """Read and validate a file's embedded credentials, trusting this installation's CA."""
    import c2pa

    path = Path(path)
    media_type = mime_type(path)
    trust = {"verify": {"verify_trust": True},
             "trust": {"user_anchors": trust_anchors().decode()}}
    try:
        with c2pa.Context.from_json(json.dumps(trust)) as context, open(path, "rb") as stream, \
                c2pa.Reader(media_type, stream, context=context) as reader:
            store = json.loads(reader.json())
            state = str(reader.get_validation_state() or "")
    except c2pa.C2paError as error:
        raise ProvenanceError(f"{path.name} carries no readable content credentials: {error}") from error
    manifest = store["manifests"][store["active_manifest"]]
    results = store.get("validation_results", {}).get("activeManifest", {})
    failures = [entry.get("code") for entry in results.get("failure", [])]
    failures += [entry.get("code") for entry in store.get("validation_status", []) or []
                 if entry.get("code") and entry["code"] not in failures and "mismatch" in entry["code"]]
    return ReadBack(state=state, manifest=manifest, failures=failures)

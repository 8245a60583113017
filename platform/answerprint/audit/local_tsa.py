"""A small RFC 3161 timestamp authority, for tests and for local development.

It holds a fresh key and a self-signed certificate for its whole life, so its tokens verify only
against its own `certificate_pem`, and only until it is thrown away. It proves nothing to an
outsider: anyone can run one. Production needs a real, independent TSA.

    tsa = LocalTimestampAuthority()
    with tsa.serve() as url:
        token = request_token(b"payload", url)
    verify_token(token, b"payload", trusted_certs=[tsa.certificate_pem])
"""
import hashlib
import itertools
import logging
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from asn1crypto import cms, core, tsp, x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .timestamping import (
    SUPPORTED_HASHES,
    TIMESTAMP_REPLY_CONTENT_TYPE,
    TimeStampResp,
)

logger = logging.getLogger(__name__)

# An OID under a private enterprise arc nobody is assigned; fine for a TSA that is never trusted
# outside this machine.
DEFAULT_POLICY = "1.3.6.1.4.1.99999.1"

# Requests are a hundred-odd bytes; the cap stops a stray upload from being read into memory.
MAX_REQUEST_BYTES = 64 * 1024


class LocalTimestampAuthority:
    """Issues RFC 3161 timestamp tokens signed with its own throwaway key.

    key_type: "ec" (P-256, the default: fast to generate), "rsa" (2048-bit) or "ed25519".
    accuracy_seconds: written into each TSTInfo when set.
    accepted_hashes: imprint hashes it stamps; any other is rejected with failInfo badAlg.
    """

    def __init__(self, *, key_type="ec", policy=DEFAULT_POLICY, common_name="Answerprint local TSA",
                 accuracy_seconds=1, accepted_hashes=tuple(SUPPORTED_HASHES)):
        self.policy = policy
        self.accuracy_seconds = accuracy_seconds
        self.accepted_hashes = frozenset(accepted_hashes)
        if not self.accepted_hashes <= SUPPORTED_HASHES.keys():
            raise ValueError(f"accepted_hashes must be among {sorted(SUPPORTED_HASHES)}")
        self._key_type = key_type
        self._private_key = _generate_key(key_type)
        self._certificate = _self_signed_timestamping_certificate(self._private_key, common_name)
        self._certificate_der = self._certificate.public_bytes(serialization.Encoding.DER)
        self._serials = itertools.count(1)
        self._serials_lock = threading.Lock()

    @property
    def certificate_pem(self) -> bytes:
        """The certificate that signs every token; give it to `verify_token(trusted_certs=...)`."""
        return self._certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def subject(self) -> str:
        return self._certificate.subject.rfc4514_string()

    def sign(self, request_der: bytes) -> bytes:
        """Answer a DER TimeStampReq with a DER TimeStampResp: granted, or a rejection saying why."""
        try:
            request = _read_request(request_der)
        # asn1crypto fails on damaged input with more than ValueError; whatever it raises, the
        # request was malformed, and a TSA answers that with a rejection, not a broken connection.
        except Exception as error:
            return _rejection("bad_data_format", f"not a DER TimeStampReq: {error}")
        if request.version != "v1":
            return _rejection("bad_data_format", f"unsupported TimeStampReq version {request.version}")
        if request.hash_name not in self.accepted_hashes:
            return _rejection("bad_alg", f"hash {request.hash_name} is not accepted")
        if len(request.hashed_message) != SUPPORTED_HASHES[request.hash_name].digest_size:
            return _rejection("bad_data_format", f"imprint length does not fit {request.hash_name}")
        if request.policy is not None and request.policy != self.policy:
            return _rejection("unaccepted_policy", f"this TSA only issues under policy {self.policy}")
        if request.has_extensions:
            return _rejection("unaccepted_extensions", "this TSA accepts no request extensions")
        token = self._token(request)
        return TimeStampResp({"status": {"status": "granted"}, "time_stamp_token": token}).dump()

    @contextmanager
    def serve(self):
        """Serve `sign` over HTTP on 127.0.0.1 at a free port; yields the URL to POST to."""
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        server.daemon_threads = True
        # A short poll keeps shutdown quick, which is most of the cost of a test using this.
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_port}/"
        finally:
            server.shutdown()
            server.server_close()
            thread.join()

    def _next_serial(self):
        with self._serials_lock:
            return next(self._serials)

    def _token(self, request):
        now = datetime.now(timezone.utc)
        tst_info = {
            "version": "v1",
            "policy": self.policy,
            "message_imprint": {
                "hash_algorithm": {"algorithm": request.hash_name},
                "hashed_message": request.hashed_message,
            },
            "serial_number": self._next_serial(),
            "gen_time": now,
        }
        if self.accuracy_seconds:
            tst_info["accuracy"] = {"seconds": self.accuracy_seconds}
        if request.nonce is not None:
            tst_info["nonce"] = request.nonce
        tst_info_der = tsp.TSTInfo(tst_info).dump()

        digest_name = self._digest_name()
        certificate = asn1_x509.Certificate.load(self._certificate_der)
        signed_attrs = cms.CMSAttributes([
            {"type": "content_type", "values": ["tst_info"]},
            {"type": "signing_time", "values": [cms.Time({"utc_time": now})]},
            {"type": "message_digest", "values": [hashlib.new(digest_name, tst_info_der).digest()]},
            {"type": "signing_certificate_v2", "values": [{
                "certs": [{
                    "cert_hash": hashlib.sha256(self._certificate_der).digest(),
                    "issuer_serial": {
                        "issuer": [asn1_x509.GeneralName({"directory_name": certificate.issuer})],
                        "serial_number": certificate.serial_number,
                    },
                }],
            }]},
        ])
        signature_algorithm, signature = self._sign_attributes(signed_attrs.dump())
        signer_info = {
            "version": "v1",
            "sid": {"issuer_and_serial_number": {
                "issuer": certificate.issuer,
                "serial_number": certificate.serial_number,
            }},
            "digest_algorithm": {"algorithm": digest_name},
            "signed_attrs": signed_attrs,
            "signature_algorithm": {"algorithm": signature_algorithm},
            "signature": signature,
        }
        signed_data = {
            "version": "v3",
            "digest_algorithms": [{"algorithm": digest_name}],
            "encap_content_info": cms.EncapsulatedContentInfo({
                "content_type": "tst_info",
                "content": tsp.TSTInfo.load(tst_info_der),
            }),
            "signer_infos": [signer_info],
        }
        if request.wants_certificate:
            signed_data["certificates"] = [certificate]
        return cms.ContentInfo({"content_type": "signed_data", "content": cms.SignedData(signed_data)})

    def _digest_name(self):
        # RFC 8419 §3.1: Ed25519 signers in CMS digest with SHA-512.
        return "sha512" if self._key_type == "ed25519" else "sha256"

    def _sign_attributes(self, signed_bytes):
        key = self._private_key
        if isinstance(key, ec.EllipticCurvePrivateKey):
            return "sha256_ecdsa", key.sign(signed_bytes, ec.ECDSA(hashes.SHA256()))
        if isinstance(key, rsa.RSAPrivateKey):
            return "sha256_rsa", key.sign(signed_bytes, padding.PKCS1v15(), hashes.SHA256())
        return "ed25519", key.sign(signed_bytes)


@dataclass(frozen=True)
class _Request:
    version: str
    hash_name: str
    hashed_message: bytes
    policy: str | None
    nonce: int | None
    wants_certificate: bool
    has_extensions: bool


def _read_request(request_der):
    request = tsp.TimeStampReq.load(request_der, strict=True)
    imprint = request["message_imprint"]
    policy = request["req_policy"]
    return _Request(
        version=request["version"].native,
        hash_name=imprint["hash_algorithm"]["algorithm"].native,
        hashed_message=imprint["hashed_message"].native,
        policy=None if isinstance(policy, core.Void) else policy.dotted,
        nonce=request["nonce"].native,
        wants_certificate=bool(request["cert_req"].native),
        has_extensions=bool(request["extensions"]),
    )


def _generate_key(key_type):
    if key_type == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if key_type == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(f"key_type must be 'ec', 'rsa' or 'ed25519', not {key_type!r}")


def _self_signed_timestamping_certificate(private_key, common_name):
    name = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Answerprint"),
    ])
    now = datetime.now(timezone.utc)
    hash_algorithm = None if isinstance(private_key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        # Backdated a little, so a client whose clock runs slightly behind still accepts the token.
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=True, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        # RFC 3161 §2.3: timeStamping must be the only extended key usage, and critical.
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(private_key.public_key()), critical=False)
        .sign(private_key, hash_algorithm)
    )


def _rejection(failure, reason):
    return TimeStampResp({
        "status": {
            "status": "rejection",
            "status_string": [reason],
            "fail_info": tsp.PKIFailureInfo({failure}),
        },
    }).dump()


def _handler_for(authority):
    class TimestampRequestHandler(BaseHTTPRequestHandler):
        def do_POST(self):
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                self.send_error(400, "bad Content-Length")
                return
            if not 0 <= length <= MAX_REQUEST_BYTES:
                self.send_error(413, "timestamp request too large or negative")
                return
            try:
                body = authority.sign(self.rfile.read(length))
            except Exception:
                logger.exception("local TSA failed to answer a request")
                self.send_error(500, "local TSA failed")
                return
            self.send_response(200)
            self.send_header("Content-Type", TIMESTAMP_REPLY_CONTENT_TYPE)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):
            # Every request would otherwise go to stderr; failures are logged above.
            pass

    return TimestampRequestHandler

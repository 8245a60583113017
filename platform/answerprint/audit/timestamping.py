"""RFC 3161 trusted timestamps for signed checkpoints.

A checkpoint's Ed25519 signature proves which key signed a Merkle root, but the time written next
to it comes from our own clock. A timestamp token from an independent timestamp authority (TSA)
proves the signed bytes existed no later than the TSA's clock says, so back-dating a rewritten
log would also need the TSA's key.

    token = request_token(payload, "https://tsa.example/")          # store the DER bytes
    info = verify_token(token, payload, trusted_certs=[tsa_pem])    # TimestampInfo, or raises

Both raise `TimestampError`, with a message meant for a person, on every problem.

Trust: `verify_token` checks that the token is intact and signed by the certificate it carries.
Only with `trusted_certs` does it also check *who* that is; without them anybody with a
self-made certificate could have issued the token. `signer_certificate_pem` pulls the certificate
out of a token, for an operator who wants to pin the TSA they already use.
"""
import hashlib
import hmac
import http.client
import secrets
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timezone

from asn1crypto import cms, core, tsp
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

SUPPORTED_HASHES = {
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}

TIMESTAMP_QUERY_CONTENT_TYPE = "application/timestamp-query"
TIMESTAMP_REPLY_CONTENT_TYPE = "application/timestamp-reply"

# A real answer is a few kilobytes; the cap stops a misbehaving server from filling memory.
MAX_RESPONSE_BYTES = 1024 * 1024

# RFC 3161 names, so messages read like the RFC and the TSA's own logs, not like asn1crypto.
PKI_STATUS_NAMES = {
    "granted": "granted",
    "granted_with_mods": "grantedWithMods",
    "rejection": "rejection",
    "waiting": "waiting",
    "revocation_warning": "revocationWarning",
    "revocation_notification": "revocationNotification",
}
FAILURE_INFO_NAMES = {
    "bad_alg": "badAlg",
    "bad_request": "badRequest",
    "bad_data_format": "badDataFormat",
    "time_not_available": "timeNotAvailable",
    "unaccepted_policy": "unacceptedPolicy",
    "unaccepted_extensions": "unacceptedExtension",
    "add_info_not_available": "addInfoNotAvailable",
    "system_failure": "systemFailure",
}


class TimestampError(Exception):
    """A timestamp could not be obtained, or a token does not prove what it should."""


class TimeStampResp(core.Sequence):
    """RFC 3161 §2.4.2 TimeStampResp with the token OPTIONAL, as the RFC has it.

    asn1crypto's own `tsp.TimeStampResp` makes the token mandatory, so it can neither read nor
    write a rejection, which by definition carries no token.
    """

    _fields = [
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


@dataclass(frozen=True)
class TimestampInfo:
    """What a verified token attests."""

    gen_time: datetime  # the TSA's time, UTC aware
    serial: int  # unique per TSA; quote it when asking the TSA about a token
    tsa: str  # RFC 4514 subject of the signing certificate, e.g. "CN=Example TSA,O=Example"
    policy: str  # dotted OID of the TSA policy the token was issued under
    hash_name: str  # the message imprint's hash, e.g. "sha256"


def request_token(data: bytes, url: str, *, timeout=10, hash_name="sha256") -> bytes:
    """Ask the TSA at `url` to timestamp `data`; the DER TimeStampToken (a CMS ContentInfo).

    Only the hash of `data` leaves this process. The answer is checked before it is returned:
    granted, same nonce, imprint of `data`, and a signature that verifies with the certificate in
    the token (not whether that certificate is trusted: see `verify_token`).
    """
    hash_class = _hash_class(hash_name)
    nonce = secrets.randbits(64)
    request = tsp.TimeStampReq({
        "version": "v1",
        "message_imprint": {
            "hash_algorithm": {"algorithm": hash_name},
            "hashed_message": _digest(hash_class, data),
        },
        "nonce": nonce,
        # Without the certificate in the token, nobody could check it without fetching the
        # certificate from somewhere else first.
        "cert_req": True,
    })
    body = _post(url, request.dump(), timeout)
    token = _granted_token(body, url)
    _check_answers_request(token, url, nonce, hash_name)
    try:
        verify_token(token, data)
    except TimestampError as error:
        raise TimestampError(f"TSA at {url} sent a token that fails verification: {error}") from None
    return token


def verify_token(token: bytes, data: bytes, *, trusted_certs=None) -> TimestampInfo:
    """Check that `token` timestamps exactly `data`; what it attests, or `TimestampError`.

    `trusted_certs`: certificates (PEM or DER bytes; a PEM may hold several) of the TSAs to
    accept; the token's signer must be one of them, byte for byte. None skips that check, and an
    empty list trusts nobody.
    """
    try:
        return _verify(token, data, trusted_certs)
    except (ValueError, TypeError, AttributeError) as error:
        # asn1crypto parses lazily, so damage can surface at whichever field is read first.
        raise TimestampError(f"timestamp token is malformed: {error}") from None


def _verify(token, data, trusted_certs):
    signed_data = _signed_data(token)
    signer_info = _only_signer(signed_data)
    # Both taken before any value is read: reading a field that has a DEFAULT marks an asn1crypto
    # structure as changed, and it is then re-encoded, while the signature and the digest cover
    # the bytes as the TSA sent them.
    signed_attributes_der = _signed_attributes_as_signed(signer_info)
    tst_info_der = _tst_info_der(signed_data)
    tst_info = _parse_tst_info(tst_info_der)
    signer_cert = _signer_certificate(signed_data, signer_info)
    hash_name = _check_imprint(tst_info, data)
    _check_signed_attributes(signer_info, tst_info_der, signer_cert)
    _check_signature(signer_info, signed_attributes_der, signer_cert)
    _check_timestamping_certificate(signer_cert)
    gen_time = tst_info["gen_time"].native.astimezone(timezone.utc)
    if not signer_cert.not_valid_before_utc <= gen_time <= signer_cert.not_valid_after_utc:
        raise TimestampError(
            f"timestamp token's time {gen_time.isoformat()} is outside the validity of its TSA "
            f"certificate ({signer_cert.not_valid_before_utc.isoformat()} to "
            f"{signer_cert.not_valid_after_utc.isoformat()})."
        )
    subject = signer_cert.subject.rfc4514_string()
    if trusted_certs is not None:
        signer_der = signer_cert.public_bytes(serialization.Encoding.DER)
        if signer_der not in _certificates_der(trusted_certs):
            fingerprint = signer_cert.fingerprint(hashes.SHA256()).hex()
            raise TimestampError(
                f"timestamp token is signed by an untrusted TSA certificate: {subject} "
                f"(SHA-256 fingerprint {fingerprint})."
            )
    return TimestampInfo(
        gen_time=gen_time,
        serial=tst_info["serial_number"].native,
        tsa=subject,
        policy=tst_info["policy"].dotted,
        hash_name=hash_name,
    )


def signer_certificate_pem(token: bytes) -> bytes:
    """The PEM of the certificate that signed `token`, to add to the trusted certificates.

    Check its fingerprint with the TSA's operator before trusting it: the token alone cannot say
    whether that certificate belongs to the TSA one meant to use.
    """
    try:
        signed_data = _signed_data(token)
        cert = _signer_certificate(signed_data, _only_signer(signed_data))
    except (ValueError, TypeError) as error:
        raise TimestampError(f"timestamp token is malformed: {error}") from None
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class TimestampingConfig:
    """The installation's TSA settings; `url` empty means checkpoints are not timestamped."""

    url: str
    trusted_certs: tuple | None  # None: tokens are checked for integrity only
    timeout: float

    @property
    def enabled(self):
        return bool(self.url)

    def request(self, data: bytes) -> bytes:
        return request_token(data, self.url, timeout=self.timeout)

    def verify(self, token: bytes, data: bytes) -> TimestampInfo:
        return verify_token(token, data, trusted_certs=self.trusted_certs)


def timestamping_config() -> TimestampingConfig:
    """Read AUDIT_TSA_URL, AUDIT_TSA_CERTIFICATES (paths of PEM/DER files) and AUDIT_TSA_TIMEOUT.

    Trusted certificates are read even without a URL: tokens issued before timestamping was
    switched off must stay verifiable.
    """
    from pathlib import Path

    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    paths = list(getattr(settings, "AUDIT_TSA_CERTIFICATES", None) or [])
    certificates = []
    for path in paths:
        try:
            certificates.append(Path(path).read_bytes())
        except OSError as error:
            raise ImproperlyConfigured(f"AUDIT_TSA_CERTIFICATES: cannot read {path}: {error}") from None
    return TimestampingConfig(
        url=getattr(settings, "AUDIT_TSA_URL", "") or "",
        trusted_certs=tuple(certificates) if certificates else None,
        timeout=float(getattr(settings, "AUDIT_TSA_TIMEOUT", 10)),
    )


def _hash_class(hash_name):
    try:
        return SUPPORTED_HASHES[hash_name]
    except KeyError:
        raise TimestampError(
            f"unsupported hash {hash_name!r}; use one of {', '.join(sorted(SUPPORTED_HASHES))}."
        ) from None


def _digest(hash_class, data):
    digest = hashes.Hash(hash_class())
    digest.update(data)
    return digest.finalize()


def _post(url, request_der, timeout):
    # urllib would also open file: and ftp: URLs; a TSA is only ever reached over HTTP(S).
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise TimestampError(f"TSA URL {url!r} is not an http(s) URL.")
    http_request = urllib.request.Request(
        url,
        data=request_der,
        method="POST",
        headers={"Content-Type": TIMESTAMP_QUERY_CONTENT_TYPE, "Accept": TIMESTAMP_REPLY_CONTENT_TYPE},
    )
    try:
        with urllib.request.urlopen(http_request, timeout=timeout) as response:
            body = response.read(MAX_RESPONSE_BYTES + 1)
    except urllib.error.HTTPError as error:
        raise TimestampError(f"TSA at {url} answered HTTP {error.code} {error.reason}.") from None
    except urllib.error.URLError as error:
        if isinstance(error.reason, TimeoutError):
            raise TimestampError(f"TSA at {url} did not answer within {timeout} s.") from None
        raise TimestampError(f"TSA at {url} is unreachable: {error.reason}.") from None
    except TimeoutError:
        raise TimestampError(f"TSA at {url} did not answer within {timeout} s.") from None
    except http.client.HTTPException as error:
        raise TimestampError(f"TSA at {url} broke off the HTTP exchange: {error!r}.") from None
    except (OSError, ValueError) as error:
        raise TimestampError(f"TSA at {url} is unreachable: {error}.") from None
    if len(body) > MAX_RESPONSE_BYTES:
        raise TimestampError(f"TSA at {url} sent more than {MAX_RESPONSE_BYTES} bytes; not a timestamp reply.")
    return body


def _granted_token(body, url):
    try:
        response = TimeStampResp.load(body, strict=True)
        status_info = response["status"]
        status = status_info["status"].native
        status_text = status_info["status_string"].native
        fail_info = status_info["fail_info"].native
    except (ValueError, TypeError) as error:
        raise TimestampError(f"TSA at {url} sent something that is not a TimeStampResp: {error}") from None
    if status not in ("granted", "granted_with_mods"):
        details = []
        if fail_info:
            details.append("failInfo " + ", ".join(sorted(FAILURE_INFO_NAMES.get(n, str(n)) for n in fail_info)))
        if status_text:
            details.append('"' + "; ".join(status_text) + '"')
        suffix = f" ({'; '.join(details)})" if details else ""
        raise TimestampError(
            f"TSA at {url} did not grant the timestamp: PKIStatus {PKI_STATUS_NAMES.get(status, status)}{suffix}."
        )
    token = response["time_stamp_token"]
    if isinstance(token, core.Void):
        raise TimestampError(f"TSA at {url} granted the timestamp but sent no token.")
    return token.dump()


def _signed_data(token):
    try:
        content_info = cms.ContentInfo.load(token, strict=True)
        content_type = content_info["content_type"].native
    except (ValueError, TypeError) as error:
        raise TimestampError(f"timestamp token is not a DER CMS ContentInfo: {error}") from None
    if content_type != "signed_data":
        raise TimestampError(f"timestamp token is a CMS {content_type}, not SignedData.")
    return content_info["content"]


def _tst_info_der(signed_data):
    encap = signed_data["encap_content_info"]
    content_type = encap["content_type"].native
    if content_type != "tst_info":
        raise TimestampError(f"timestamp token encapsulates {content_type}, not an RFC 3161 TSTInfo.")
    if not isinstance(encap, cms.EncapsulatedContentInfo):
        # SignedData version 1 makes asn1crypto read PKCS#7's ContentInfo; the bytes are the same.
        encap = cms.EncapsulatedContentInfo.load(encap.dump())
    content = encap["content"]
    if not content:
        raise TimestampError("timestamp token carries no TSTInfo (detached content).")
    return bytes(content)


def _parse_tst_info(tst_info_der):
    try:
        tst_info = tsp.TSTInfo.load(tst_info_der, strict=True)
        tst_info.native
    except (ValueError, TypeError, AttributeError) as error:
        # AttributeError: asn1crypto's way of failing on some damaged choices inside a TSTInfo.
        raise TimestampError(f"timestamp token's TSTInfo is malformed: {error}") from None
    return tst_info


def _check_answers_request(token, url, nonce, hash_name):
    try:
        tst_info = _parse_tst_info(_tst_info_der(_signed_data(token)))
        answered_nonce = tst_info["nonce"].native
        answered_hash = tst_info["message_imprint"]["hash_algorithm"]["algorithm"].native
    except (ValueError, TypeError) as error:
        raise TimestampError(f"TSA at {url} sent a malformed timestamp token: {error}") from None
    except TimestampError as error:
        raise TimestampError(f"TSA at {url} sent an unusable timestamp token: {error}") from None
    if answered_nonce != nonce:
        answered = "no nonce" if answered_nonce is None else f"nonce {answered_nonce}"
        raise TimestampError(
            f"TSA at {url} answered with {answered}, we sent nonce {nonce}: the response is not "
            f"an answer to this request (replayed or mixed up)."
        )
    if answered_hash != hash_name:
        raise TimestampError(f"TSA at {url} stamped a {answered_hash} imprint; we asked for {hash_name}.")


def _only_signer(signed_data):
    signer_infos = signed_data["signer_infos"]
    if len(signer_infos) != 1:
        raise TimestampError(f"timestamp token has {len(signer_infos)} signers; RFC 3161 requires exactly one.")
    return signer_infos[0]


def _signer_certificate(signed_data, signer_info):
    sid = signer_info["sid"]
    for choice in signed_data["certificates"] or []:
        if choice.name != "certificate":
            continue
        cert = choice.chosen
        # Taken first, for the same reason as the signed attributes in `_verify`.
        cert_der = cert.dump()
        if sid.name == "issuer_and_serial_number":
            wanted = sid.chosen
            matches = cert.issuer == wanted["issuer"] and cert.serial_number == wanted["serial_number"].native
        else:
            matches = cert.key_identifier == sid.chosen.native
        if matches:
            try:
                return x509.load_der_x509_certificate(cert_der)
            except (ValueError, x509.InvalidVersion) as error:
                raise TimestampError(f"timestamp token's TSA certificate is malformed: {error}") from None
    raise TimestampError(
        "timestamp token does not include the certificate that signed it, so it cannot be checked "
        "(the TSA must be asked with certReq, as request_token does)."
    )


def _check_imprint(tst_info, data):
    imprint = tst_info["message_imprint"]
    hash_name = imprint["hash_algorithm"]["algorithm"].native
    hash_class = _hash_class(hash_name)
    expected = _digest(hash_class, data)
    stamped = imprint["hashed_message"].native
    if not hmac.compare_digest(stamped, expected):
        raise TimestampError(
            f"timestamp token does not cover this data: its message imprint is {hash_name}:{stamped.hex()}, "
            f"the data's is {hash_name}:{expected.hex()}."
        )
    return hash_name


def _signed_attribute(signed_attrs, name):
    values = [attr["values"] for attr in signed_attrs if attr["type"].native == name]
    if len(values) != 1 or len(values[0]) != 1:
        return None
    return values[0][0]


def _check_signed_attributes(signer_info, tst_info_der, signer_cert):
    signed_attrs = signer_info["signed_attrs"]
    content_type = _signed_attribute(signed_attrs, "content_type")
    if content_type is None or content_type.native != "tst_info":
        raise TimestampError("timestamp token's signed contentType attribute is missing or is not id-ct-TSTInfo.")
    message_digest = _signed_attribute(signed_attrs, "message_digest")
    if message_digest is None:
        raise TimestampError("timestamp token has no messageDigest signed attribute.")
    digest_name = signer_info["digest_algorithm"]["algorithm"].native
    expected = _digest(_hash_class(digest_name), tst_info_der)
    if not hmac.compare_digest(message_digest.native, expected):
        raise TimestampError(
            "timestamp token's messageDigest does not match its TSTInfo: the TSTInfo was altered after signing."
        )
    _check_signing_certificate_attribute(signed_attrs, signer_cert)


def _check_signing_certificate_attribute(signed_attrs, signer_cert):
    # The attribute binds the signature to one certificate, so a second certificate issued for the
    # same key cannot be passed off as the signer.
    signer_der = signer_cert.public_bytes(serialization.Encoding.DER)
    v2 = _signed_attribute(signed_attrs, "signing_certificate_v2")
    v1 = _signed_attribute(signed_attrs, "signing_certificate")
    if v2 is not None:
        first = v2["certs"][0]
        hash_name = first["hash_algorithm"]["algorithm"].native
        expected = _digest(_hash_class(hash_name), signer_der)
    elif v1 is not None:
        first = v1["certs"][0]
        expected = hashlib.sha1(signer_der).digest()
    else:
        return
    if not hmac.compare_digest(first["cert_hash"].native, expected):
        raise TimestampError("timestamp token's signingCertificate attribute names a different certificate than the one that signed it.")


def _check_signature(signer_info, signed_bytes, signer_cert):
    signature = signer_info["signature"].native
    algorithm = signer_info["signature_algorithm"]
    signature_algo = algorithm.signature_algo
    hash_class = _signature_hash(signer_info)
    try:
        public_key = signer_cert.public_key()
    except UnsupportedAlgorithm as error:
        raise TimestampError(f"timestamp token's TSA certificate has a key this verifier cannot use: {error}") from None
    try:
        if signature_algo == "rsassa_pkcs1v15" and isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, signed_bytes, padding.PKCS1v15(), hash_class())
        elif signature_algo == "rsassa_pss" and isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, signed_bytes, _pss_padding(algorithm), hash_class())
        elif signature_algo == "ecdsa" and isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, signed_bytes, ec.ECDSA(hash_class()))
        elif signature_algo == "ed25519" and isinstance(public_key, ed25519.Ed25519PublicKey):
            public_key.verify(signature, signed_bytes)
        else:
            raise TimestampError(
                f"timestamp token is signed with {signature_algo}, which this verifier does not support "
                f"for a {type(public_key).__name__} key."
            )
    except InvalidSignature:
        raise TimestampError(
            "timestamp token's signature does not verify with its TSA certificate: the token was altered."
        ) from None


def _signed_attributes_as_signed(signer_info):
    signed_attrs = signer_info["signed_attrs"]
    if not signed_attrs:
        raise TimestampError("timestamp token has no signed attributes; RFC 3161 requires them.")
    # RFC 5652 §5.4: the signature covers the attributes encoded as an explicit SET OF, not with
    # the implicit [0] tag they carry inside SignerInfo; the length octets stay the same.
    tagged = signed_attrs.dump()
    if tagged[:1] != b"\xa0":
        raise TimestampError("timestamp token's signed attributes are not tagged [0] as CMS requires.")
    return b"\x31" + tagged[1:]


def _signature_hash(signer_info):
    # "sha256_ecdsa"-style algorithm identifiers name their hash; a bare "rsaEncryption" leaves it
    # to the SignerInfo's digestAlgorithm.
    try:
        hash_name = signer_info["signature_algorithm"].hash_algo
    except ValueError:
        hash_name = signer_info["digest_algorithm"]["algorithm"].native
    return _hash_class(hash_name)


def _pss_padding(algorithm):
    parameters = algorithm["parameters"]
    mgf_hash = parameters["mask_gen_algorithm"]["parameters"]["algorithm"].native
    return padding.PSS(mgf=padding.MGF1(_hash_class(mgf_hash)()), salt_length=parameters["salt_length"].native)


def _check_timestamping_certificate(signer_cert):
    # RFC 3161 §2.3: a TSA signs only with a certificate issued for timestamping; a token signed
    # with, say, a TLS server certificate is not a timestamp.
    try:
        usages = signer_cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        usages = []
    if x509.ExtendedKeyUsageOID.TIME_STAMPING not in usages:
        raise TimestampError(
            f"timestamp token's signer {signer_cert.subject.rfc4514_string()} is not a TSA: its "
            f"certificate lacks the timeStamping extended key usage."
        )


def _certificates_der(certificates):
    result = set()
    for certificate in certificates:
        if isinstance(certificate, str):
            certificate = certificate.encode("ascii")
        try:
            if b"-----BEGIN" in certificate:
                loaded = x509.load_pem_x509_certificates(certificate)
            else:
                loaded = [x509.load_der_x509_certificate(certificate)]
        except ValueError as error:
            raise TimestampError(f"a trusted TSA certificate cannot be read: {error}") from None
        result.update(cert.public_bytes(serialization.Encoding.DER) for cert in loaded)
    return result

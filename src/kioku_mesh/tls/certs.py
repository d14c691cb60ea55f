"""X.509 building blocks on `cryptography`: keys, CA, requests, signing, checks.

Keys are EC P-256 (ECDSA with SHA-256): accepted by rustls (Zenoh), OpenSSL,
browsers' stacks and hardware tokens alike, and small.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import re
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..core.errors import ValidationError
from ..core.models import SLUG_RE
from .errors import TlsError

# Certificates start this much in the past, so a peer whose clock is a little
# behind the CA's accepts them at once.
CLOCK_SKEW = dt.timedelta(minutes=5)
MAX_CA_DAYS = 36500
MAX_PEER_DAYS = 3650
_DNS_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_SERVER_AND_CLIENT = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]

PrivateKey = Any  # ec / ed25519 / rsa private key


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def private_pem(key: PrivateKey) -> bytes:
    return bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))


def cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def csr_pem(csr: x509.CertificateSigningRequest) -> str:
    return csr.public_bytes(serialization.Encoding.PEM).decode("ascii")


def load_private_key(data: bytes, where: str) -> PrivateKey:
    try:
        return serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise TlsError(f"{where} is not a usable unencrypted private key") from None


def load_cert(data: bytes, where: str) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError:
        try:
            return x509.load_der_x509_certificate(data)
        except ValueError:
            raise TlsError(f"{where} is not a certificate") from None


def spki(public_key: Any) -> bytes:
    return bytes(public_key.public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo))


def same_key(private_key: PrivateKey, cert: x509.Certificate) -> bool:
    return spki(private_key.public_key()) == spki(cert.public_key())


def fingerprint(cert: x509.Certificate) -> str:
    digest = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest().upper()
    return "SHA256:" + ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


# ------------------------------------------------------------------ names


def check_cn(cn: str) -> str:
    """A peer CN is the user id access rules match on, so it follows user id rules."""
    if not SLUG_RE.match(cn):
        raise ValidationError(
            f"CN {cn!r} is not a valid user id: 1-64 of letters, digits, '.', '_', '-', "
            "starting with a letter or digit (set --cn)")
    return cn


def check_ca_cn(cn: str) -> str:
    cn = cn.strip()
    if not cn or len(cn) > 64 or not cn.isprintable():
        raise ValidationError("the CA name (--cn) must be 1-64 printable characters")
    return cn


def check_days(days: int, maximum: int) -> int:
    if not 1 <= days <= maximum:
        raise ValidationError(f"--days must be between 1 and {maximum}, got {days}")
    return days


def parse_san(value: str) -> x509.GeneralName:
    """An IP address becomes an IP SAN, anything else must be a DNS name."""
    text = value.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        return x509.IPAddress(ipaddress.ip_address(text))
    except ValueError:
        pass
    name = text.lower().rstrip(".")
    labels = name.split(".")
    if not name or len(name) > 253 or not all(_DNS_LABEL.match(label) for label in labels):
        raise ValidationError(
            f"--san {value!r}: not an IP address or DNS name (give the host part only, "
            "e.g. 192.168.1.10 or hub.lan, not tls/host:port)")
    return x509.DNSName(name)


def san_text(name: x509.GeneralName) -> str:
    return str(name.value)


def _cn_of(name: x509.Name) -> str:
    attrs = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else ""


def _sans(obj: x509.Certificate | x509.CertificateSigningRequest) -> list[x509.GeneralName]:
    try:
        ext = obj.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    return list(ext.value)


def _sig_hash(key: PrivateKey) -> hashes.SHA256 | None:
    return None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()


def _check_public_key(public_key: Any) -> None:
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        if public_key.curve.name in ("secp256r1", "secp384r1"):
            return
        raise TlsError(f"unsupported EC curve {public_key.curve.name}: use P-256 or P-384")
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return
    if isinstance(public_key, rsa.RSAPublicKey):
        if public_key.key_size >= 2048:
            return
        raise TlsError(f"RSA key of {public_key.key_size} bits is too small (2048 at least)")
    raise TlsError(f"unsupported key type {type(public_key).__name__}")


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=ca,
                         crl_sign=ca, encipher_only=False, decipher_only=False)


# ------------------------------------------------------------- building


def build_ca(key: PrivateKey, cn: str, days: int, now: dt.datetime) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    public = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, _sig_hash(key))
    )


def build_csr(key: PrivateKey, cn: str, sans: list[x509.GeneralName]) -> x509.CertificateSigningRequest:
    return (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .sign(key, _sig_hash(key))
    )


def load_csr(der: bytes) -> x509.CertificateSigningRequest:
    try:
        csr = x509.load_der_x509_csr(der)
        valid = csr.is_signature_valid
    except (ValueError, UnsupportedAlgorithm):
        raise ValidationError("the certificate request is not a valid CSR "
                              "(was the block altered when copied?)") from None
    if not valid:
        raise TlsError("the certificate request's signature is invalid: it was altered after "
                       "it was made; ask for a new one")
    return csr


def csr_identity(csr: x509.CertificateSigningRequest) -> tuple[str, list[x509.GeneralName]]:
    """The CN and SANs a request asks for; nothing else from it is ever copied."""
    cn = _cn_of(csr.subject)
    if not cn:
        raise TlsError("the certificate request has no CN (the user id it is for)")
    check_cn(cn)
    sans = _sans(csr)
    if not sans:
        raise TlsError(f"the certificate request for {cn} names no address (SAN)")
    for name in sans:
        if not isinstance(name, x509.IPAddress | x509.DNSName):
            raise TlsError(f"the certificate request asks for an unsupported SAN {name!r}: "
                           "only IP addresses and DNS names")
    _check_public_key(csr.public_key())
    return cn, sans


def sign_csr(csr: x509.CertificateSigningRequest, ca_key: PrivateKey, ca_cert: x509.Certificate,
             days: int, now: dt.datetime) -> x509.Certificate:
    cn, sans = csr_identity(csr)
    not_after = now + dt.timedelta(days=days)
    if not_after > ca_cert.not_valid_after_utc:
        left = (ca_cert.not_valid_after_utc - now).days
        raise TlsError(f"--days {days} outlives the CA (valid until "
                       f"{ca_cert.not_valid_after_utc:%Y-%m-%d}): use --days {left} or less, "
                       "or renew the CA")
    public = csr.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .issuer_name(ca_cert.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage(_SERVER_AND_CLIENT), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, _sig_hash(ca_key))
    )


# --------------------------------------------------------------- checks


def is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def check_validity(cert: x509.Certificate, what: str, now: dt.datetime) -> None:
    if now > cert.not_valid_after_utc:
        raise TlsError(f"{what} expired on {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC")
    if now + CLOCK_SKEW < cert.not_valid_before_utc:
        raise TlsError(f"{what} is not valid before {cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC: "
                       "check this host's clock")


def check_ca(ca: x509.Certificate, now: dt.datetime) -> None:
    if not is_ca(ca) or not issued_by(ca, ca):
        raise TlsError("the CA certificate is not a self-signed CA certificate")
    check_validity(ca, "the CA certificate", now)


def check_peer_cert(cert: x509.Certificate, ca: x509.Certificate, now: dt.datetime) -> None:
    cn = _cn_of(cert.subject) or "?"
    if is_ca(cert):
        raise TlsError(f"the certificate for {cn} is a CA certificate, not a peer certificate")
    if not issued_by(cert, ca):
        raise TlsError(f"the certificate for {cn} was not signed by the CA in the bundle")
    check_validity(cert, f"the certificate for {cn}", now)
    try:
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        usages = None
    if usages is None or not all(u in usages for u in _SERVER_AND_CLIENT):
        raise TlsError(f"the certificate for {cn} is not for both TLS server and client use")


def describe(cert: x509.Certificate, now: dt.datetime) -> dict[str, Any]:
    left = cert.not_valid_after_utc - now
    return {
        "subject_cn": _cn_of(cert.subject),
        "sans": [san_text(n) for n in _sans(cert)],
        "issuer_cn": _cn_of(cert.issuer),
        "serial": format(cert.serial_number, "x"),
        "not_before": cert.not_valid_before_utc.isoformat(),
        "not_after": cert.not_valid_after_utc.isoformat(),
        "days_left": int(left.total_seconds() // 86400),
        "expired": left.total_seconds() < 0,
        "is_ca": is_ca(cert),
        "fingerprint": fingerprint(cert),
    }


def common_name(cert: x509.Certificate) -> str:
    return _cn_of(cert.subject)

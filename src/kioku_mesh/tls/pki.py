"""The PKI operations behind `kioku-mesh tls`: a private CA for the mesh.

    CA host:   init_ca()                    once
    peer:      request()  -> CSR block      the key stays on the peer
    CA host:   sign(block) -> bundle block  peer certificate + CA certificate
    peer:      install(bundle)              files + `tls:` in the global config

A peer certificate's CN is the identity of that host's user on the mesh: the
user id that access rules (Zenoh `cert_common_names`) match on.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509

from ..core.config import Settings, read_yaml, write_yaml
from ..core.errors import ValidationError
from . import blocks, certs
from .errors import TlsError
from .layout import TlsPaths, append_private, private_dir, read_bytes, write_private
from .node_config import installed_files, with_tls, zenoh_tls_block

__all__ = ["init_ca", "request", "sign", "install", "info", "zenoh_tls_block", "with_tls",
           "peer_common_name", "default_cn", "DEFAULT_CA_DAYS", "DEFAULT_PEER_DAYS"]

DEFAULT_CA_CN = "kioku-mesh CA"
DEFAULT_CA_DAYS = 3650
DEFAULT_PEER_DAYS = 365


def _paths(settings: Settings) -> TlsPaths:
    return TlsPaths.for_state_dir(settings.state_dir)


def _now(now: dt.datetime | None) -> dt.datetime:
    return now or certs.utcnow()


def _data(result: Any) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(result).items()}


# -------------------------------------------------------------------- CA


@dataclass
class CaResult:
    cert_path: Path
    key_path: Path
    cn: str
    not_after: str
    fingerprint: str
    replaced: bool

    def to_dict(self) -> dict[str, Any]:
        return _data(self)


def init_ca(settings: Settings, *, cn: str | None = None, days: int = DEFAULT_CA_DAYS,
            force: bool = False, now: dt.datetime | None = None) -> CaResult:
    paths = _paths(settings)
    name = certs.check_ca_cn(cn or DEFAULT_CA_CN)
    certs.check_days(days, certs.MAX_CA_DAYS)
    existed = paths.ca_key.exists() or paths.ca_cert.exists()
    if existed and not force:
        raise TlsError(f"a CA already exists in {paths.ca_dir}; --force replaces it, which "
                       "invalidates every peer certificate it signed")
    key = certs.new_key()
    cert = certs.build_ca(key, name, days, _now(now))
    private_dir(paths.root)
    private_dir(paths.ca_dir)
    write_private(paths.ca_key, certs.private_pem(key))
    write_private(paths.ca_cert, certs.cert_pem(cert).encode("ascii"))
    return CaResult(paths.ca_cert, paths.ca_key, name, cert.not_valid_after_utc.isoformat(),
                    certs.fingerprint(cert), existed)


def _load_ca(paths: TlsPaths) -> tuple[Any, x509.Certificate]:
    hint = "run `kioku-mesh tls init-ca` first (on the CA host only)"
    cert = certs.load_cert(read_bytes(paths.ca_cert, "CA certificate", hint), str(paths.ca_cert))
    key = certs.load_private_key(read_bytes(paths.ca_key, "CA key", hint), str(paths.ca_key))
    if not certs.same_key(key, cert):
        raise TlsError(f"{paths.ca_key} does not belong to {paths.ca_cert}")
    return key, cert


# --------------------------------------------------------------- request


@dataclass
class RequestResult:
    block: str
    cn: str
    sans: list[str]
    key_path: Path
    new_key: bool
    default_san: bool

    def to_dict(self) -> dict[str, Any]:
        return _data(self)


def default_cn(settings: Settings) -> str:
    """The configured user id, else the host name."""
    return settings.user_id or socket.gethostname().split(".")[0]


def request(settings: Settings, sans: list[str], *, cn: str | None = None,
            new_key: bool = False) -> RequestResult:
    """Make (or reuse) this host's key and a CSR for it, as a copy-paste block.

    The key is reused unless `new_key`: re-running `request` after losing its
    output does not break an installed certificate. A new key for a host that
    already has one waits in peer.key.new until `install` gets its certificate."""
    paths = _paths(settings)
    name = certs.check_cn(cn or default_cn(settings))
    default_san = not sans
    values = sans or [socket.gethostname()]
    names: list[x509.GeneralName] = []
    for value in values:
        san = certs.parse_san(value)
        if san not in names:
            names.append(san)
    if new_key or not (paths.peer_key.exists() or paths.pending_key.exists()):
        key = certs.new_key()
        key_path = paths.pending_key if paths.peer_key.exists() else paths.peer_key
        private_dir(paths.root)
        write_private(key_path, certs.private_pem(key))
        fresh = True
    else:
        key_path = paths.pending_key if paths.pending_key.exists() else paths.peer_key
        key = certs.load_private_key(read_bytes(key_path, "private key"), str(key_path))
        fresh = False
    csr = certs.build_csr(key, name, names)
    shown = [certs.san_text(n) for n in names]
    block = blocks.armor(blocks.REQUEST, [certs.csr_pem(csr)], [
        f"for: CN={name}  SAN={', '.join(shown)}",
        "next: on the CA host run `kioku-mesh tls sign` and paste this whole block",
    ])
    return RequestResult(block, name, shown, key_path, fresh, default_san)


# ------------------------------------------------------------------ sign


@dataclass
class SignResult:
    block: str
    cn: str
    sans: list[str]
    serial: str
    not_after: str
    fingerprint: str
    ca_fingerprint: str

    def to_dict(self) -> dict[str, Any]:
        return _data(self)


def sign(settings: Settings, text: str, *, days: int = DEFAULT_PEER_DAYS,
         now: dt.datetime | None = None) -> SignResult:
    """Check a CSR block and sign it with this host's CA, keeping only its CN and SANs."""
    certs.check_days(days, certs.MAX_PEER_DAYS)
    paths = _paths(settings)
    objects = blocks.dearmor(text, blocks.REQUEST)
    csrs = [der for label, der in objects if label in ("CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST")]
    if len(csrs) != 1 or len(objects) != 1:
        raise ValidationError(f"expected exactly one CERTIFICATE REQUEST, found "
                              f"{', '.join(label for label, _ in objects)}")
    csr = certs.load_csr(csrs[0])
    ca_key, ca_cert = _load_ca(paths)
    moment = _now(now)
    certs.check_validity(ca_cert, "the CA certificate", moment)
    cert = certs.sign_csr(csr, ca_key, ca_cert, days, moment)
    desc = certs.describe(cert, moment)
    result = SignResult(
        block=blocks.armor(blocks.BUNDLE, [certs.cert_pem(cert), certs.cert_pem(ca_cert)], [
            f"for: CN={desc['subject_cn']}  SAN={', '.join(desc['sans'])}  "
            f"valid until {cert.not_valid_after_utc:%Y-%m-%d}",
            f"CA: {certs.common_name(ca_cert)}  {certs.fingerprint(ca_cert)}",
            "next: on the requesting host run `kioku-mesh tls install` and paste this whole block",
        ]),
        cn=desc["subject_cn"], sans=desc["sans"], serial=desc["serial"],
        not_after=desc["not_after"], fingerprint=desc["fingerprint"],
        ca_fingerprint=certs.fingerprint(ca_cert),
    )
    record = {k: v for k, v in result.to_dict().items() if k != "block"}
    append_private(paths.issued_log, json.dumps({"signed_at": moment.isoformat(), **record}) + "\n")
    return result


# --------------------------------------------------------------- install


@dataclass
class InstallResult:
    cert_path: Path
    ca_path: Path
    key_path: Path
    config_path: Path
    cn: str
    sans: list[str]
    not_after: str
    ca_fingerprint: str
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return _data(self)


def install(settings: Settings, text: str, *, now: dt.datetime | None = None) -> InstallResult:
    """Check a bundle against this host's key and its CA, then write it and the config.

    Nothing is written unless every check passes."""
    paths = _paths(settings)
    moment = _now(now)
    objects = blocks.dearmor(text, blocks.BUNDLE)
    if any(label != "CERTIFICATE" for label, _ in objects):
        raise ValidationError("a certificate bundle holds only CERTIFICATE blocks, found "
                              + ", ".join(label for label, _ in objects))
    loaded = [certs.load_cert(der, "the bundle") for _, der in objects]
    cas = [c for c in loaded if certs.is_ca(c)]
    leaves = [c for c in loaded if not certs.is_ca(c)]
    if len(cas) != 1 or len(leaves) != 1:
        raise ValidationError(f"expected a peer certificate and a CA certificate in the bundle, "
                              f"found {len(leaves)} peer and {len(cas)} CA certificate(s)")
    ca, cert = cas[0], leaves[0]
    certs.check_ca(ca, moment)
    certs.check_peer_cert(cert, ca, moment)

    key_path = None
    for candidate in (paths.pending_key, paths.peer_key):
        if candidate.exists():
            key = certs.load_private_key(read_bytes(candidate, "private key"), str(candidate))
            if certs.same_key(key, cert):
                key_path = candidate
                break
    cn = certs.common_name(cert)
    if key_path is None:
        if not (paths.pending_key.exists() or paths.peer_key.exists()):
            raise TlsError(f"no private key on this host ({paths.peer_key}): the bundle must answer "
                           "a `kioku-mesh tls request` made here")
        raise TlsError(f"the certificate for {cn} does not match this host's key: it answers a "
                       "request made on another host (or with an older key)")

    warnings: list[str] = []
    if paths.trusted_ca.exists():
        try:
            old = certs.load_cert(paths.trusted_ca.read_bytes(), str(paths.trusted_ca))
        except (TlsError, OSError):
            old = None
        if old is not None and certs.fingerprint(old) != certs.fingerprint(ca):
            warnings.append(f"the trusted CA changed ({certs.fingerprint(old)} -> "
                            f"{certs.fingerprint(ca)}): hosts still on the old CA will refuse this one")
    if settings.user_id and cn != settings.user_id:
        warnings.append(f"the certificate's CN {cn!r} differs from this host's user_id "
                        f"{settings.user_id!r}: the mesh will know this host as {cn!r}")

    config = read_yaml(settings.config_path)  # before writing: a bad config stops us here
    write_private(paths.trusted_ca, certs.cert_pem(ca).encode("ascii"))
    write_private(paths.peer_cert, certs.cert_pem(cert).encode("ascii"))
    if key_path == paths.pending_key:
        paths.pending_key.replace(paths.peer_key)
    previous = config.get("tls")
    section = dict(previous) if isinstance(previous, dict) else {}
    section.update(ca=str(paths.trusted_ca), cert=str(paths.peer_cert), key=str(paths.peer_key))
    config["tls"] = section
    write_yaml(settings.config_path, config)
    desc = certs.describe(cert, moment)
    return InstallResult(paths.peer_cert, paths.trusted_ca, paths.peer_key, settings.config_path,
                         cn, desc["sans"], desc["not_after"], certs.fingerprint(ca), warnings)


# ------------------------------------------------------------------ info


def _cert_info(path: Path, key_path: Path | None, now: dt.datetime,
               issuer: x509.Certificate | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"path": str(path)}
    try:
        cert = certs.load_cert(read_bytes(path, "certificate"), str(path))
    except TlsError as exc:
        out["error"] = str(exc)
        return out
    out.update(certs.describe(cert, now))
    if key_path is not None:
        out["key_path"] = str(key_path)
        try:
            key = certs.load_private_key(read_bytes(key_path, "private key"), str(key_path))
            out["key_matches"] = certs.same_key(key, cert)
        except TlsError:
            out["key_matches"] = False
    if issuer is not None:
        out["signed_by_trusted_ca"] = certs.issued_by(cert, issuer)
    return out


def info(settings: Settings, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """What this host holds: its peer certificate, the CA it trusts, the CA it runs."""
    paths = _paths(settings)
    moment = _now(now)
    section = settings.raw_global.get("tls")
    section = section if isinstance(section, dict) else {}

    def configured(name: str, default: Path) -> Path:
        value = section.get(name)
        return Path(value).expanduser() if isinstance(value, str) and value else default

    cert_path = configured("cert", paths.peer_cert)
    key_path = configured("key", paths.peer_key)
    ca_path = configured("ca", paths.trusted_ca)
    trusted = None
    result: dict[str, Any] = {"config": section or None, "peer": None, "trusted_ca": None,
                              "ca": None, "pending_key": None}
    if ca_path.exists():
        result["trusted_ca"] = _cert_info(ca_path, None, moment)
        try:
            trusted = certs.load_cert(ca_path.read_bytes(), str(ca_path))
        except (TlsError, OSError):
            trusted = None
    if cert_path.exists():
        result["peer"] = _cert_info(cert_path, key_path, moment, trusted)
    if paths.ca_cert.exists():
        result["ca"] = _cert_info(paths.ca_cert, paths.ca_key, moment)
    if paths.pending_key.exists() or (paths.peer_key.exists() and not cert_path.exists()):
        result["pending_key"] = str(paths.pending_key if paths.pending_key.exists() else paths.peer_key)
    if not any(result[k] for k in ("peer", "trusted_ca", "ca", "pending_key")):
        raise TlsError("no TLS certificate, key or CA on this host: run `kioku-mesh tls enroll "
                       "CA-HOST` (or tls request / sign / install), or `tls init-ca` on the CA host")
    return result


def peer_common_name(settings: Settings) -> str:
    """The CN of this host's installed certificate: its user id on the mesh."""
    path = installed_files(settings)["cert"]
    return certs.common_name(certs.load_cert(read_bytes(path, "certificate"), str(path)))

"""Where the TLS files live under the state dir, and how they are written.

    $STATE_DIR/tls/            0700
        peer.key               0600  this host's private key (never leaves it)
        peer.key.new           0600  a new key awaiting its certificate (--new-key)
        peer.crt               0600  this host's certificate, signed by the CA
        ca.crt                 0600  the CA certificate every peer trusts
        ca/                    0700  only on the CA host
            ca.key             0600
            ca.crt             0600
            issued.jsonl       0600  one line per certificate signed
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from .errors import TlsError

TLS_DIR = "tls"


@dataclass(frozen=True)
class TlsPaths:
    root: Path

    @classmethod
    def for_state_dir(cls, state_dir: Path) -> TlsPaths:
        return cls(Path(state_dir).expanduser().absolute() / TLS_DIR)

    @property
    def ca_dir(self) -> Path:
        return self.root / "ca"

    @property
    def ca_key(self) -> Path:
        return self.ca_dir / "ca.key"

    @property
    def ca_cert(self) -> Path:
        return self.ca_dir / "ca.crt"

    @property
    def issued_log(self) -> Path:
        return self.ca_dir / "issued.jsonl"

    @property
    def peer_key(self) -> Path:
        return self.root / "peer.key"

    @property
    def pending_key(self) -> Path:
        return self.root / "peer.key.new"

    @property
    def peer_cert(self) -> Path:
        return self.root / "peer.crt"

    @property
    def trusted_ca(self) -> Path:
        return self.root / "ca.crt"


def private_dir(path: Path) -> None:
    """Create `path` (and parents) and make it 0700."""
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(path, 0o700)
    except OSError as exc:
        raise TlsError(f"cannot create {path}: {exc.strerror}") from None


def write_private(path: Path, data: bytes) -> None:
    """Write a file readable by its owner only (0600), atomically."""
    private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise TlsError(f"cannot write {path}: {exc.strerror}") from None


def append_private(path: Path, line: str) -> None:
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, line.encode("utf-8"))
        finally:
            os.close(fd)
    except OSError as exc:
        raise TlsError(f"cannot write {path}: {exc.strerror}") from None


def read_bytes(path: Path, what: str, hint: str = "") -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise TlsError(f"no {what} at {path}" + (f": {hint}" if hint else "")) from None
    except OSError as exc:
        raise TlsError(f"cannot read {what} {path}: {exc.strerror}") from None

"""The Zenoh `transport.link.tls` block of a node, from the installed files.

No `cryptography` here: a node reads paths, Zenoh reads the files."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from ..core.config import Settings
from .errors import TlsError

NOT_INSTALLED = ("no TLS certificate installed on this host (no `tls:` section in {config}): run "
                 "`kioku-mesh tls enroll CA-HOST`, or `tls request` / `tls sign` / `tls install`")


def installed_files(settings: Settings) -> dict[str, Path]:
    """The `tls: {ca, cert, key}` paths recorded by `tls install`, checked to exist."""
    section = settings.raw_global.get("tls")
    if not section:
        raise TlsError(NOT_INSTALLED.format(config=settings.config_path))
    if not isinstance(section, dict):
        raise TlsError(f"{settings.config_path}: the tls section must be a mapping")
    files: dict[str, Path] = {}
    for name in ("ca", "cert", "key"):
        value = section.get(name)
        if not value or not isinstance(value, str):
            raise TlsError(f"{settings.config_path}: tls.{name} is missing; run `kioku-mesh tls install`")
        path = Path(value).expanduser()
        if not path.is_absolute():
            raise TlsError(f"{settings.config_path}: tls.{name} must be an absolute path, got {value!r}")
        if not path.is_file():
            raise TlsError(f"tls.{name}: {path} does not exist (re-run `kioku-mesh tls install`)")
        files[name] = path
    return files


def zenoh_tls_block(settings: Settings) -> dict[str, Any]:
    """The value for `transport.link.tls` in a node's Zenoh config.

    The same key and certificate serve both directions (a hub listens and
    dials; the certificate carries serverAuth and clientAuth). Both ends must
    set enable_mtls, and the host part of a tls/ endpoint is checked against
    the listener's SANs."""
    files = installed_files(settings)
    key, cert = str(files["key"]), str(files["cert"])
    return {
        "root_ca_certificate": str(files["ca"]),
        "listen_private_key": key,
        "listen_certificate": cert,
        "connect_private_key": key,
        "connect_certificate": cert,
        "enable_mtls": True,
        "verify_name_on_connect": True,
    }


def with_tls(doc: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """A copy of a Zenoh config document with the node's TLS block merged in."""
    out = copy.deepcopy(doc)
    link = out.setdefault("transport", {}).setdefault("link", {})
    link["tls"] = {**link.get("tls", {}), **zenoh_tls_block(settings)}
    return out

"""`tls enroll`: request here, sign on the CA host over ssh, install here."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from dataclasses import dataclass

from ..core.config import Settings
from ..core.errors import ValidationError
from . import pki
from .errors import TlsError

BY_HAND = ("enroll by hand: here `kioku-mesh tls request --san ADDR`, on the CA host "
           "`kioku-mesh tls sign` (paste the block), here `kioku-mesh tls install` (paste the reply)")


@dataclass
class EnrollResult:
    request: pki.RequestResult
    install: pki.InstallResult
    remote_stderr: str


def enroll(settings: Settings, host: str, sans: list[str], *, cn: str | None = None,
           days: int | None = None, new_key: bool = False,
           remote_command: str = "kioku-mesh") -> EnrollResult:
    if not host or host.startswith("-") or any(c.isspace() for c in host):
        raise ValidationError(f"invalid CA host {host!r}: expected [user@]host as for ssh")
    ssh = shutil.which("ssh")
    if ssh is None:
        raise TlsError(f"`ssh` is not on PATH, so enroll cannot reach the CA host; {BY_HAND}")
    req = pki.request(settings, sans, cn=cn, new_key=new_key)
    remote = f"{remote_command} tls sign -"
    if days is not None:
        remote += f" --days {shlex.quote(str(days))}"
    proc = subprocess.run([ssh, host, remote], input=req.block.encode("utf-8"),
                          capture_output=True, check=False)
    stderr = proc.stderr.decode("utf-8", "replace")
    if proc.returncode != 0:
        last = next((line.strip() for line in reversed(stderr.splitlines()) if line.strip()),
                    "no message")
        why = {255: "ssh could not connect", 127: f"{remote_command!r} was not found there "
               "(try --remote-command /path/to/kioku-mesh)"}.get(proc.returncode, "signing failed")
        raise TlsError(f"`ssh {host} {remote}`: {why} (exit {proc.returncode}): {last}; "
                       f"the request is kept, so you can also {BY_HAND}")
    installed = pki.install(settings, proc.stdout.decode("utf-8", "replace"))
    return EnrollResult(req, installed, stderr)

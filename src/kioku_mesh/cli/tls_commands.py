"""`kioku-mesh tls ...`: a private CA and peer certificates for mutual TLS.

`cryptography` is imported only inside these handlers (via tls.pki).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..core.errors import ValidationError
from .render import dump_json

FLOW = """\
enrolment (the private key never leaves the host it was made on):
  CA host, once:   kioku-mesh tls init-ca
  each host:       kioku-mesh tls request --san ADDR   (prints a request block)
  CA host:         kioku-mesh tls sign                 (paste it; prints a bundle block)
  each host:       kioku-mesh tls install              (paste the bundle)
  or in one go:    kioku-mesh tls enroll CA-HOST --san ADDR   (over ssh)
  the CA host itself: kioku-mesh tls request --san ADDR | kioku-mesh tls sign | kioku-mesh tls install

A certificate's CN is the identity of that host's user on the mesh: the user id
that access rules match on. It defaults to the configured user_id.
"""


def add_parsers(sub: Any, common: argparse.ArgumentParser, parser_class: type) -> None:
    p = sub.add_parser("tls", help="private CA and certificates for mutual TLS between nodes",
                       description="Private CA and peer certificates for mutual TLS.", epilog=FLOW,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = p.add_subparsers(dest="tls_command", metavar="ACTION", required=True,
                               parser_class=parser_class)

    q = actions.add_parser("init-ca", parents=[common], help="create the mesh's CA (once, on the CA host)")
    q.add_argument("--cn", help="the CA's name (default: kioku-mesh CA)")
    q.add_argument("--days", type=int, default=3650, help="validity in days (default 3650)")
    q.add_argument("--force", action="store_true",
                   help="replace an existing CA (invalidates every certificate it signed)")

    cn_help = ("the identity this host's user has on the mesh, used as the user id in access "
               "rules (default: the configured user_id, else the host name)")
    san_help = ("an IP address or DNS name other nodes use to reach this one (repeatable); "
                "a hub needs every address spokes dial (default: the host name)")

    q = actions.add_parser("request", parents=[common],
                           help="make this host's key and print a certificate request block")
    q.add_argument("--san", action="extend", nargs="+", default=[], metavar="ADDR", help=san_help)
    q.add_argument("--cn", metavar="NAME", help=cn_help)
    q.add_argument("--new-key", action="store_true",
                   help="make a new key even if this host has one (it replaces the old one at install)")

    q = actions.add_parser("sign", parents=[common],
                           help="on the CA host: sign a request block, print a bundle block")
    q.add_argument("file", nargs="?", default="-", help="the request block (default -: stdin)")
    q.add_argument("--days", type=int, default=365, help="validity in days (default 365)")

    q = actions.add_parser("install", parents=[common],
                           help="check and install the bundle block the CA host printed")
    q.add_argument("file", nargs="?", default="-", help="the bundle block (default -: stdin)")

    actions.add_parser("info", parents=[common], help="show this host's certificates and CA")

    q = actions.add_parser("enroll", parents=[common],
                           help="request, sign on CA-HOST over ssh, install: all in one")
    q.add_argument("host", metavar="CA-HOST", help="[user@]host of the CA, as for ssh")
    q.add_argument("--san", action="extend", nargs="+", default=[], metavar="ADDR", help=san_help)
    q.add_argument("--cn", metavar="NAME", help=cn_help)
    q.add_argument("--days", type=int, help="validity in days (default: the CA host's, 365)")
    q.add_argument("--new-key", action="store_true", help="make a new key even if this host has one")
    q.add_argument("--remote-command", default="kioku-mesh", metavar="CMD",
                   help="kioku-mesh on the CA host, if not on its PATH (default kioku-mesh)")


def _read_input(name: str, what: str) -> str:
    if name == "-":
        if sys.stdin.isatty():
            print(f"paste the {what} block, then press Ctrl-D:", file=sys.stderr)
        data = sys.stdin.buffer.read()
    else:
        try:
            data = Path(name).read_bytes()
        except OSError as exc:
            raise ValidationError(f"cannot read {name}: {exc.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationError(f"the {what} is not text (UTF-8)") from None


def _warn(message: str) -> None:
    print(f"kioku-mesh: warning: {message}", file=sys.stderr)


def cmd_tls(args: argparse.Namespace) -> int:
    from ..core.config import load_settings

    settings = load_settings()
    handler = {"init-ca": _init_ca, "request": _request, "sign": _sign, "install": _install,
               "info": _info, "enroll": _enroll}[args.tls_command]
    return handler(args, settings)


def _init_ca(args: argparse.Namespace, settings: Any) -> int:
    from ..tls import pki

    result = pki.init_ca(settings, cn=args.cn, days=args.days, force=args.force)
    if result.replaced:
        _warn("the CA was replaced: every peer certificate signed by the old CA is now invalid; "
              "re-enrol every host (tls request / sign / install)")
    if args.json:
        dump_json(result.to_dict())
        return 0
    print(f"CA {result.cn!r} created, valid until {result.not_after[:10]}")
    print(f"  certificate: {result.cert_path}")
    print(f"  key:         {result.key_path}  (0600; keep it on this host, back it up offline)")
    print(f"  fingerprint: {result.fingerprint}")
    print("next: sign each host's request with `kioku-mesh tls sign`")
    return 0


def _request(args: argparse.Namespace, settings: Any) -> int:
    from ..tls import pki

    result = pki.request(settings, args.san, cn=args.cn, new_key=args.new_key)
    if result.default_san:
        _warn(f"no --san given: using this host's name {result.sans[0]!r}; a hub needs every "
              "address or name the spokes dial")
    if args.json:
        dump_json(result.to_dict())
        return 0
    sys.stdout.write(result.block)
    sys.stdout.flush()
    how = "new key" if result.new_key else "existing key"
    print(f"request for CN={result.cn} ({how} {result.key_path}, which stays on this host); "
          "copy the block above to the CA host and run `kioku-mesh tls sign` there",
          file=sys.stderr)
    return 0


def _sign(args: argparse.Namespace, settings: Any) -> int:
    from ..tls import pki

    text = _read_input(args.file, "certificate request")
    result = pki.sign(settings, text, days=args.days)
    print(f"signed CN={result.cn} SAN={', '.join(result.sans)} serial {result.serial}, "
          f"valid until {result.not_after[:10]}", file=sys.stderr)
    if args.json:
        dump_json(result.to_dict())
        return 0
    sys.stdout.write(result.block)
    return 0


def _print_install(result: Any) -> None:
    print(f"installed the certificate for CN={result.cn} (SAN {', '.join(result.sans)}), "
          f"valid until {result.not_after[:10]}")
    print(f"  certificate: {result.cert_path}")
    print(f"  key:         {result.key_path}")
    print(f"  CA:          {result.ca_path}  {result.ca_fingerprint}")
    print(f"  config:      {result.config_path} (tls: ca, cert, key)")


def _install(args: argparse.Namespace, settings: Any) -> int:
    from ..tls import pki

    result = pki.install(settings, _read_input(args.file, "certificate bundle"))
    for warning in result.warnings:
        _warn(warning)
    if args.json:
        dump_json(result.to_dict())
    else:
        _print_install(result)
    return 0


def _enroll(args: argparse.Namespace, settings: Any) -> int:
    from ..tls.enroll import enroll

    result = enroll(settings, args.host, args.san, cn=args.cn, days=args.days,
                    new_key=args.new_key, remote_command=args.remote_command)
    if result.request.default_san:
        _warn(f"no --san given: used this host's name {result.request.sans[0]!r}")
    for line in result.remote_stderr.splitlines():
        if line.strip():
            print(f"{args.host}: {line}", file=sys.stderr)
    for warning in result.install.warnings:
        _warn(warning)
    if args.json:
        dump_json({"request": {k: v for k, v in result.request.to_dict().items() if k != "block"},
                   "install": result.install.to_dict()})
    else:
        _print_install(result.install)
    return 0


def _info(args: argparse.Namespace, settings: Any) -> int:
    from ..api.mesh_view import tls_info

    data = tls_info(settings)
    if args.json:
        dump_json(data)
        return 0
    sections = (("peer", "this host's certificate"), ("trusted_ca", "trusted CA"),
                ("ca", "CA run on this host"))
    for key, title in sections:
        entry = data[key]
        if entry is None:
            continue
        print(f"{title}: {entry['path']}")
        if "error" in entry:
            print(f"  error:       {entry['error']}")
            continue
        cn_note = "  (the user id the mesh knows this host by)" if key == "peer" else ""
        print(f"  subject CN:  {entry['subject_cn']}{cn_note}")
        if entry["sans"]:
            print(f"  SANs:        {', '.join(entry['sans'])}")
        print(f"  issuer:      {entry['issuer_cn']}")
        state = (f"EXPIRED {-entry['days_left']} days ago" if entry["expired"]
                 else f"{entry['days_left']} days left")
        print(f"  valid:       {entry['not_before'][:19]} -> {entry['not_after'][:19]} UTC ({state})")
        if "key_matches" in entry:
            print(f"  key:         {entry['key_path']} "
                  f"({'matches' if entry['key_matches'] else 'DOES NOT MATCH'})")
        if "signed_by_trusted_ca" in entry:
            print(f"  chain:       {'signed by' if entry['signed_by_trusted_ca'] else 'NOT signed by'} "
                  "the trusted CA")
        print(f"  fingerprint: {entry['fingerprint']}")
    if data["pending_key"]:
        print(f"request pending: {data['pending_key']} awaits its certificate (`kioku-mesh tls install`)")
    return 0

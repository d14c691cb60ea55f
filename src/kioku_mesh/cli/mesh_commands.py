"""`node run`, `mesh start`, `mesh join` and the hub/spoke side of `init`.

zenoh is imported only when a node actually runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from ..core.errors import ConfigError


def add_parsers(sub: Any, common: argparse.ArgumentParser, parser_class: type) -> None:
    p = sub.add_parser("node", help="run this host's mesh node (hub or spoke, from config)")
    actions = p.add_subparsers(dest="node_command", metavar="ACTION", required=True,
                               parser_class=parser_class)
    actions.add_parser("run", parents=[common], help="run the node in the foreground")

    p = sub.add_parser("mesh", help="try the mesh without a config file")
    actions = p.add_subparsers(dest="mesh_command", metavar="ACTION", required=True,
                               parser_class=parser_class)
    q = actions.add_parser("start", parents=[common], help="run a hub node that listens")
    q.add_argument("--listen", action="append", default=[], metavar="EP",
                   help="endpoint to listen on (default tcp/0.0.0.0:17447)")
    q = actions.add_parser("join", parents=[common], help="run a spoke node that dials a hub")
    q.add_argument("endpoint", nargs="+", help="hub endpoint(s), e.g. tcp/192.168.1.10:17447")


def _run(settings: Any, cfg: Any) -> int:
    import logging

    from ..api.node import run_node

    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s kioku-mesh node: %(message)s", datefmt="%H:%M:%S")

    def started(pc_id: str, cfg: Any) -> None:
        where = ", ".join(cfg.listen) if cfg.role == "hub" else ", ".join(cfg.connect)
        print(f"kioku-mesh node {pc_id[:8]}: {cfg.role} "
              f"({'listening on' if cfg.role == 'hub' else 'dialing'} {where}); Ctrl-C to stop",
              file=sys.stderr, flush=True)

    run_node(settings, cfg, started=started)
    print("kioku-mesh node stopped", file=sys.stderr)
    return 0


def cmd_node(args: argparse.Namespace) -> int:
    from ..core.config import load_settings
    from ..mesh.config import from_settings

    settings = load_settings()
    return _run(settings, from_settings(settings))


def cmd_mesh(args: argparse.Namespace) -> int:
    from ..core.config import load_settings
    from ..mesh.config import QUICK_START_LISTEN, MeshConfig

    settings = load_settings()
    if args.mesh_command == "start":
        cfg = MeshConfig(role="hub", listen=args.listen or [QUICK_START_LISTEN])
    else:
        cfg = MeshConfig(role="spoke", connect=list(args.endpoint))
    cfg.validate()
    return _run(settings, cfg)


def mesh_section(mode: str, listen: list[str], connect: list[str], tls: bool = False
                 ) -> dict[str, Any]:
    """The `mesh:` block `init` writes, validated as the node would read it.
    With TLS, tcp/ endpoints become tls/ ones (same host and port)."""
    from ..mesh.config import DEFAULT_HUB_LISTEN, MeshConfig

    def proto(eps: list[str]) -> list[str]:
        return [("tls/" + ep[4:]) if tls and ep.startswith("tcp/") else ep for ep in eps]

    cfg = MeshConfig(role=mode, listen=proto(listen or ([DEFAULT_HUB_LISTEN] if mode == "hub"
                                                         else [])),
                     connect=proto(connect), tls_block={} if tls else None)
    cfg.validate()
    section: dict[str, Any] = {"connect": cfg.connect}
    if mode == "hub":
        section["listen"] = cfg.listen
    if tls:
        section["tls"] = True
    return section


SYSTEMD_UNIT = """\
[Unit]
Description=kioku-mesh node ({mode}): replicates shared agent memory
After=network-online.target

[Service]
ExecStart={exe} node run
Restart=on-failure
RestartSec=3
{env}
[Install]
WantedBy=default.target
"""

LAUNCHD_PLIST = """\
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0"><dict>
  <key>Label</key><string>dev.kioku-mesh.node</string>
  <key>ProgramArguments</key><array><string>{exe}</string><string>node</string><string>run</string></array>
  <key>RunAtLoad</key><true/>
  <key>KeepAlive</key><true/>
</dict></plist>
"""


def install_service(mode: str) -> tuple[Path | None, str]:
    """Write a systemd user unit (Linux) or return a launchd plist (macOS)."""
    import shutil

    exe = shutil.which("kioku-mesh") or str(Path(sys.executable).with_name("kioku-mesh"))
    if sys.platform == "darwin":
        return None, LAUNCHD_PLIST.format(exe=exe)
    env_lines = "".join(
        f"Environment={k}={v}\n" for k, v in sorted(os.environ.items())
        if k in ("KIOKU_MESH_STATE_DIR", "KIOKU_MESH_CONFIG")
    )
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    path = base / "systemd" / "user" / "kioku-mesh-node.service"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = SYSTEMD_UNIT.format(mode=mode, exe=exe, env=env_lines)
    path.write_text(text)
    return path, text


def check_mode_args(args: argparse.Namespace) -> None:
    if args.mode == "local" and (args.listen or args.connect or args.tls):
        raise ConfigError("--listen, --connect and --tls are for --mode hub or spoke")
    if args.mode == "spoke" and not args.connect:
        raise ConfigError("a spoke needs --connect EP (the hub's endpoint, e.g. tcp/hub:7447)")

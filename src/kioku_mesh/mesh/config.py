"""Mesh settings and the Zenoh configuration document built from them.

Hub: a Zenoh router that listens (and dials other hubs, for redundancy).
Spoke: a Zenoh client that only dials out, to one of its hubs at a time.
Multicast scouting and gossip are off: peers are named explicitly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..core.config import Settings
from ..core.errors import ConfigError

DEFAULT_HUB_LISTEN = "tcp/0.0.0.0:7447"
QUICK_START_LISTEN = "tcp/0.0.0.0:17447"
ROLES = ("hub", "spoke")


@dataclass
class MeshConfig:
    role: str
    listen: list[str] = field(default_factory=list)
    connect: list[str] = field(default_factory=list)
    sync_interval_s: float = 5.0
    publish_poll_s: float = 0.005
    lease_ms: int = 3000
    multicast: bool = False
    # transport.link.tls of the Zenoh config (mutual TLS); None for plain TCP.
    tls_block: dict[str, Any] | None = None
    # Zenoh access_control for a hub (scopes bound to certificate common names).
    access_control: dict[str, Any] | None = None

    @property
    def uses_tls(self) -> bool:
        return any(ep.startswith("tls/") for ep in self.listen + self.connect)

    def validate(self) -> None:
        if self.role not in ROLES:
            raise ConfigError(f"mesh role must be hub or spoke, got {self.role!r}")
        if self.role == "spoke" and not self.connect:
            raise ConfigError("a spoke needs at least one hub to connect to (--connect EP)")
        if self.role == "spoke" and self.listen:
            raise ConfigError("a spoke only dials out: it must not listen")
        for ep in self.listen + self.connect:
            check_endpoint(ep)
        if self.sync_interval_s <= 0:
            raise ConfigError("sync_interval_s must be positive")
        if self.tls_block is not None and not all(
                ep.startswith("tls/") for ep in self.listen + self.connect):
            raise ConfigError("with TLS on, every endpoint must be tls/HOST:PORT")


def check_endpoint(endpoint: str) -> None:
    proto, _, rest = endpoint.partition("/")
    if proto not in ("tcp", "udp", "tls", "quic", "ws", "unixsock-stream") or not rest:
        raise ConfigError(
            f"invalid endpoint {endpoint!r}: expected e.g. tcp/192.168.1.10:7447 or tls/hub:7447"
        )
    if proto in ("tcp", "udp", "tls", "quic"):
        if ":" not in rest:
            raise ConfigError(f"invalid endpoint {endpoint!r}: missing :port")
        port = rest.split("#")[0].rsplit(":", 1)[1]
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"invalid endpoint {endpoint!r}: the port must be 1 to 65535")


def from_settings(settings: Settings) -> MeshConfig:
    """The mesh section of the global config, for a hub or spoke host."""
    if settings.mode not in ROLES:
        raise ConfigError(
            f"this host is in {settings.mode} mode: run `kioku-mesh init --mode hub` or "
            "`--mode spoke --connect EP` first, or try `kioku-mesh mesh start` / `mesh join EP`"
        )
    raw = settings.raw_global.get("mesh") or {}
    if not isinstance(raw, dict):
        raise ConfigError("the mesh section of the config must be a mapping")

    def endpoints(name: str) -> list[str]:
        value = raw.get(name) or []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"mesh.{name} must be a list of endpoints")
        return list(value)

    tls = bool(raw.get("tls", False))
    default_listen = DEFAULT_HUB_LISTEN.replace("tcp/", "tls/") if tls else DEFAULT_HUB_LISTEN
    cfg = MeshConfig(
        role=settings.mode,
        listen=endpoints("listen") or ([default_listen] if settings.mode == "hub" else []),
        connect=endpoints("connect"),
        sync_interval_s=float(raw.get("sync_interval_s", 5.0)),
        multicast=bool(raw.get("multicast", False)),
    )
    if tls:
        cfg.tls_block = {}  # filled from the installed certificate by the caller
    cfg.validate()
    return cfg


def zenoh_config(cfg: MeshConfig) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "mode": "router" if cfg.role == "hub" else "client",
        "listen": {"endpoints": list(cfg.listen)},
        "connect": {
            "endpoints": list(cfg.connect),
            "retry": {"period_init_ms": 200, "period_max_ms": 2000, "period_increase_factor": 2},
        },
        "scouting": {
            "multicast": {"enabled": cfg.multicast},
            "gossip": {"enabled": False},
        },
        "transport": {"link": {"tx": {"lease": cfg.lease_ms}}},
    }
    if cfg.tls_block is not None:
        doc["transport"]["link"]["tls"] = dict(cfg.tls_block)
    if cfg.access_control is not None:
        doc["access_control"] = cfg.access_control
    # A client's open fails at once when no hub answers (an infinite connect
    # timeout would block forever instead): the node retries the open itself.
    return doc


def zenoh_config_json(cfg: MeshConfig) -> str:
    return json.dumps(zenoh_config(cfg))

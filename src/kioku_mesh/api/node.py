"""Running this host's mesh node: TLS settings into the node's config, the
hub's access control from team membership, one node per state dir. The CLI's
`node run`, `mesh start` and `mesh join` call this; zenoh loads only here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..core.config import Settings


def prepare(settings: Settings, cfg: Any) -> Any:
    """The mesh config with its TLS block filled from this host's certificates."""
    if cfg.tls_block is not None or cfg.uses_tls:
        from ..tls.node_config import zenoh_tls_block

        cfg.tls_block = zenoh_tls_block(settings)
        cfg.validate()
    return cfg


def _acl_source(cfg: Any) -> Callable[[], dict[str, Any]] | None:
    if cfg.role != "hub" or cfg.tls_block is None:
        return None  # scopes are enforced by certificate identity only where peers have one
    from ..core.config import load_settings
    from ..mesh.acl import access_control
    from .teams import load_acl

    def source() -> dict[str, Any]:
        acl = load_acl(load_settings())
        return access_control(acl["users"], acl["teams"])

    return source


def run_node(settings: Settings, cfg: Any, *, started: Callable[[str, Any], None]) -> None:
    """Run the node in this thread until a signal stops it; `started(pc_id, cfg)`
    is told once it is up (the CLI prints where it listens or dials)."""
    cfg = prepare(settings, cfg)
    from ..mesh.lock import node_lock
    from ..mesh.node import Node

    with node_lock(settings.state_dir):
        node = Node(settings, cfg, acl_source=_acl_source(cfg))
        node.install_signal_handlers()
        started(node.pc_id, cfg)
        node.run()

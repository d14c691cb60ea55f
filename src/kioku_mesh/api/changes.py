"""What changed in the store since a mark: cheap enough to ask every second.

Every write of a memory, deletion, purge, message or ack adds a row to the
store's `changes` log (AUTOINCREMENT, so its sequence only grows, also when
the node prunes published rows); peers come and go in the node's status file.
The dashboard's live updates ask `mark()` each second and, when it moved,
`since()` for what kind of thing changed.
"""

from __future__ import annotations

from dataclasses import dataclass

from .memory import Memory
from .mesh_view import peer_signature

KINDS = {"obs": "memories", "tomb": "memories", "purge": "memories",
         "msg": "messages", "ack": "messages"}


@dataclass(frozen=True)
class Mark:
    seq: int
    peers: tuple[object, ...]


def mark(mem: Memory) -> Mark:
    row = mem.store.db.execute(
        "SELECT seq FROM sqlite_sequence WHERE name = 'changes'").fetchone()
    return Mark(int(row[0]) if row else 0, peer_signature(mem))


def since(mem: Memory, before: Mark, after: Mark) -> dict[str, int]:
    """{"memories": n, "messages": n, "mesh": 1} for what moved between two
    marks; a kind whose log rows were already pruned counts as "memories"."""
    out: dict[str, int] = {}
    if after.seq > before.seq:
        rows = mem.store.db.execute(
            "SELECT kind, count(*) FROM changes WHERE seq > ? AND seq <= ? GROUP BY kind",
            (before.seq, after.seq)).fetchall()
        for kind, n in rows:
            name = KINDS.get(kind, "memories")
            out[name] = out.get(name, 0) + n
        if not rows:
            out["memories"] = after.seq - before.seq
    if after.peers != before.peers:
        out["mesh"] = 1
    return out

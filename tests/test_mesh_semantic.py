"""A memory replicated from a peer is found by meaning (ADR 0025): the
receiving node embeds it on arrival; vectors never travel."""

from __future__ import annotations

import json
import sqlite3

from mesh_helpers import wait_until
from test_mesh_replication import connected, replicated


def test_a_replicated_memory_gets_its_vector_on_arrival_and_is_found_by_meaning(cluster):
    hub = cluster.hub("hub")
    spoke = cluster.spoke("spoke", hub)
    for host in (hub, spoke):
        host.node.start()
    connected(hub, spoke)
    oid = hub.save("Release builds strip debug symbols to shrink the binary",
                   "Strip debug symbols in release")
    replicated([hub, spoke], oid)

    def has_vector() -> bool:
        con = sqlite3.connect(f"file:{spoke.db_path}?mode=ro", uri=True, timeout=10)
        try:
            return con.execute("SELECT count(*) FROM obs_vectors v JOIN observations o "
                               "ON o.seq = v.seq WHERE o.id = ?", (oid,)).fetchone()[0] == 1
        finally:
            con.close()
    wait_until(has_vector, 10, message=lambda: "no vector written by the spoke's node")
    res = spoke.run("search", "make the executable smaller", "--mode", "semantic", "--json")
    hits = json.loads(res.stdout)["hits"]
    assert [h["observation_id"] for h in hits][:1] == [oid]

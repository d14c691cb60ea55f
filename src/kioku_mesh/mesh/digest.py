"""Anti-entropy planning: compare digests top-down, list ids only where they differ.

A digest level for a prefix maps each one-character-longer child prefix to
(XOR of fingerprints, element count). Equal children are skipped; a differing
child is listed in full once it holds few enough ids, else descended into.
An idle round with an equal store is one request and 16 numbers back.
"""

from __future__ import annotations

from collections.abc import Callable

Digest = dict[str, tuple[int, int]]
BUCKET_CHARS = 3
LIST_MAX = 2000


def children(buckets: Digest, prefix: str) -> Digest:
    size = len(prefix) + 1
    out: dict[str, tuple[int, int]] = {}
    for bucket, (h, n) in buckets.items():
        if n == 0 or not bucket.startswith(prefix):
            continue
        child = bucket[:size]
        ch, cn = out.get(child, (0, 0))
        out[child] = (ch ^ h, cn + n)
    return out


def differing_prefixes(
    local: Digest, remote_children: Callable[[str], Digest], list_max: int = LIST_MAX
) -> list[str]:
    """Prefixes whose id lists must be compared."""
    found: list[str] = []
    stack = [""]
    while stack:
        prefix = stack.pop()
        theirs = remote_children(prefix)
        ours = children(local, prefix)
        for child in sorted(set(theirs) | set(ours)):
            a, b = theirs.get(child, (0, 0)), ours.get(child, (0, 0))
            if a == b:
                continue
            if len(child) >= BUCKET_CHARS or a[1] + b[1] <= list_max:
                found.append(child)
            else:
                stack.append(child)
    return found


def needed(remote_ids: dict[str, str], local_ids: dict[str, str]) -> tuple[list[str], list[str]]:
    """(ids to fetch, ids to purge) given each side's states: 'o' observation,
    't' tombstone, 'p' purged, 'm' message, 'a' ack.

    A purge wins over everything and an id purged here is never fetched
    again, so a stale peer cannot resurrect it.
    """
    fetch: list[str] = []
    purge: list[str] = []
    for oid, theirs in remote_ids.items():
        ours = local_ids.get(oid, "")
        if "p" in ours:
            continue
        if "p" in theirs:
            purge.append(oid)
        elif any(state in theirs and state not in ours for state in "otma"):
            fetch.append(oid)
    return fetch, purge

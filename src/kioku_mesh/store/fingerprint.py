"""64-bit fingerprints of (id, state) elements for the anti-entropy digest.

Registered as SQL function km_fp on every connection; it must never change,
or digests of peers running different versions would never agree.
"""

from __future__ import annotations


def fingerprint(oid: str, tag: str) -> int:
    from hashlib import blake2b  # on first write only: read-only commands skip it

    digest = blake2b(f"{tag}:{oid}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def xor_all(values: list[int]) -> int:
    out = 0
    for v in values:
        out ^= v
    return out

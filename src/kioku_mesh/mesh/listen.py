"""A hub that cannot listen says so and stops.

Zenoh's open fails the same way whether a listen endpoint cannot be bound
or a dialled hub does not answer; only the second is worth retrying.
"""

from __future__ import annotations

import re

from ..core.errors import KiokuError


class ListenError(KiokuError):
    """A hub cannot listen where it is told to (port taken, not allowed, no such address)."""


_LISTENER = re.compile(r"listener bound to (\S+?):? \[.*?: ([^\[\]]+?)(?: \(os error \d+\))?(?: at |\])",
                       re.S)


def listen_failure(message: str, listen: list[str]) -> str | None:
    """The one-line reason when Zenoh's open failed because a listen endpoint
    could not be bound, else None (a dial failure is retried instead)."""
    if "listener" not in message.lower() or not listen:
        return None
    m = _LISTENER.search(message)
    where, why = (m.group(1), m.group(2).strip()) if m else (", ".join(listen), message[:120])
    hint = ("another process (a second node?) has the port: stop it or --listen elsewhere"
            if "in use" in why.lower() else "check the address and port in --listen")
    return f"cannot listen on {where}: {why} ({hint})"

"""Timestamps in the wire format: UTC, microseconds, literal Z."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

from .errors import ValidationError

WIRE_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def now_wire() -> str:
    return format_ts(time.time())


def format_ts(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime(WIRE_FORMAT)


def parse_ts(text: str) -> float | None:
    """Epoch seconds of an ISO-8601 timestamp, or None when it is not one.

    Peers may send non-canonical forms, so anything `fromisoformat` accepts
    is taken; a naive time is read as UTC.
    """
    if not isinstance(text, str) or not text:
        return None
    candidate = text.strip()
    if candidate.endswith(("Z", "z")):
        candidate = candidate[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(candidate)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def parse_when(text: str, *, now: float | None = None) -> float:
    """A user-given point in time: ISO date/time, or relative like `7d`, `12h`.

    Raises ValidationError with a one-line reason when it is neither.
    """
    match = _RELATIVE.match(text.strip().lower())
    if match:
        base = time.time() if now is None else now
        return base - int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    epoch = parse_ts(text)
    if epoch is None:
        raise ValidationError(
            f"invalid time {text!r}: use ISO 8601 (2026-01-31 or 2026-01-31T12:00:00Z) "
            "or a relative age like 30m, 12h, 7d, 2w"
        )
    return epoch


def add_seconds(epoch: float, seconds: float) -> float:
    return (datetime.fromtimestamp(epoch, UTC) + timedelta(seconds=seconds)).timestamp()


def age(timestamp: str, now: float | None = None) -> str:
    """Compact age of a wire timestamp: 3d, 5h, 12m, or <1m; the one format of
    every output (CLI and MCP alike)."""
    ts = parse_ts(timestamp)
    if ts is None:
        return "?"
    return age_seconds(max(0.0, (now or time.time()) - ts))


def age_seconds(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return "<1m"


def pid_alive(pid: object) -> bool:
    """Whether a process with this pid exists (ours or another user's)."""
    import os

    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

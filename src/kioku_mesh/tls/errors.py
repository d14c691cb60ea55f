"""The one error type of the tls package."""

from __future__ import annotations

from ..core.errors import KiokuError


class TlsError(KiokuError):
    """A certificate, key or CA is missing, mismatched, expired or refused."""

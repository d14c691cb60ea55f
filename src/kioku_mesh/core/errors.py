"""Exceptions the library raises on purpose.

Every one of them carries a message fit to show a user on one line; adapters
(CLI, MCP) print it as is and never a traceback.
"""


class KiokuError(Exception):
    """Base class of every error raised on purpose by kioku-mesh."""

    exit_code = 1


class ValidationError(KiokuError, ValueError):
    """Input that breaks a rule of the model (bad field, size, slug, id)."""

    exit_code = 2


class NotFoundError(KiokuError, LookupError):
    """No memory matches the id or prefix given."""


class AmbiguousIdError(KiokuError, LookupError):
    """An id prefix matches more than one memory."""


class ConfigError(KiokuError):
    """A config file or environment variable holds something unusable."""

    exit_code = 2


class StoreError(KiokuError):
    """The host store cannot be opened or written."""

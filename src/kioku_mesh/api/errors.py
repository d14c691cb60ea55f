"""The errors the API raises, for adapters that turn them into exit codes,
tool errors or HTTP statuses."""

from ..core.errors import AmbiguousIdError, ConfigError, KiokuError, NotFoundError, ValidationError

__all__ = ["AmbiguousIdError", "ConfigError", "KiokuError", "NotFoundError", "ValidationError"]

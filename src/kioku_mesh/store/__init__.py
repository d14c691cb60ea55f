"""The host store: one SQLite file (WAL) holding memories, tombstones and search index."""

from .db import Store

__all__ = ["Store"]

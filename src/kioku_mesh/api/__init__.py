"""The one library API: the CLI and the MCP server are thin adapters over it."""

from ..store.search import SearchQuery, SearchResult
from .memory import Memory, MemoryView, SaveResult

__all__ = ["Memory", "MemoryView", "SaveResult", "SearchQuery", "SearchResult"]

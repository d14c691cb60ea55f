"""kioku-mesh: shared memory for AI coding agents, across tools and machines.

The public library API lives in :mod:`kioku_mesh.api`; the CLI and the MCP
server are thin adapters over it.
"""

__version__ = "0.1.0"

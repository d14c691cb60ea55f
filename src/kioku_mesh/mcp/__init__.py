"""The `kioku-mesh-mcp` stdio server: a thin MCP adapter over the library API."""

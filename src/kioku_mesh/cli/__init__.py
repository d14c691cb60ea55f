"""The `kioku-mesh` command: parse, call the library API, format."""

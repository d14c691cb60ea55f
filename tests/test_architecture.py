"""Architecture rules that a reviewer should not have to remember."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "src" / "kioku_mesh"
# Lower layers never import higher ones; equal layers are independent.
LAYERS = {"core": 0, "store": 1, "messaging": 1, "mesh": 2, "tls": 2, "api": 3, "cli": 4, "mcp": 4,
          "web": 4}
# The one crossing between adapters: `kioku-mesh ui` starts the web adapter.
ADAPTER_ENTRY_POINTS = {("cli", "kioku_mesh.web.server")}


def _imports(path: Path) -> list[tuple[str, int]]:
    module_parts = path.relative_to(PKG.parent).with_suffix("").parts
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(module_parts[: len(module_parts) - node.level])
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((target, node.lineno))
        elif isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
    return found


def test_lower_layers_never_import_higher_ones():
    violations = []
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG).parts
        if len(rel) < 2 or rel[0] not in LAYERS:
            continue
        own = LAYERS[rel[0]]
        for target, line in _imports(path):
            parts = target.split(".")
            if parts[0] != "kioku_mesh" or len(parts) < 2 or parts[1] not in LAYERS:
                continue
            if (rel[0], target) in ADAPTER_ENTRY_POINTS:
                continue
            if parts[1] != rel[0] and LAYERS[parts[1]] >= own:
                violations.append(f"{path.relative_to(PKG)}:{line} imports {target}")
    assert violations == []


def test_web_adapter_calls_only_the_api():
    """The dashboard has no logic of its own: it reaches the store, the mesh
    and TLS only through kioku_mesh.api, like the CLI and the MCP server."""
    found = []
    for path in (PKG / "web").rglob("*.py"):
        for target, line in _imports(path):
            parts = target.split(".")
            if parts[0] == "kioku_mesh" and len(parts) > 1 and parts[1] not in ("api", "web"):
                found.append(f"{path.relative_to(PKG)}:{line} imports {target}")
    assert found == []


def test_every_package_is_assigned_a_layer():
    packages = {p.name for p in PKG.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages <= set(LAYERS), f"unlayered packages: {packages - set(LAYERS)}"


def _heavy_after(km, *argv: str) -> dict:
    probe = (
        "import sys, json\n"
        "from kioku_mesh.cli.main import main\n"
        f"rc = main({list(argv)!r})\n"
        "heavy = [m for m in ('zenoh', 'mcp', 'cryptography', 'yaml', 'rich', 'click', "
        "'starlette', 'uvicorn', 'numpy') "
        "if m in sys.modules]\n"
        "print(json.dumps({'rc': rc, 'heavy': heavy}), file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          env=km.env, cwd=km.home, timeout=60)
    return json.loads(proc.stderr.strip().splitlines()[-1])


def test_cli_start_imports_no_heavy_modules(km):
    km.run("save", "x", "-s", "y", check=True)
    assert _heavy_after(km, "search", "x", "--mode", "keyword", "--json") == {"rc": 0, "heavy": []}
    assert _heavy_after(km, "search", "--json") == {"rc": 0, "heavy": []}  # a listing
    # Meaning vectors need numpy, and only that (ADR 0025).
    assert _heavy_after(km, "search", "x", "--json") == {"rc": 0, "heavy": ["numpy"]}
    # A one-shot save leaves its vectors to the next semantic search.
    assert _heavy_after(km, "save", "more x", "-s", "another y") == {"rc": 0, "heavy": []}

"""The setup act of `make demo`: how those agents got wired up, on a throw-away HOME.

`kioku-mesh setup --dry-run` finds the coding agents installed there (Codex
CLI and Gemini CLI) and shows what it would add to each; nothing is written.
"""

from __future__ import annotations

import os
import subprocess
import textwrap
from collections.abc import Callable


def run_setup_act(cli: str, base: dict[str, str], root: str, say: Callable[[str], None]) -> None:
    home = os.path.join(root, "home")
    os.makedirs(os.path.join(home, ".codex"))
    os.makedirs(os.path.join(home, ".gemini"))
    with open(os.path.join(home, ".codex", "config.toml"), "w", encoding="utf-8") as handle:
        handle.write('# my codex config\nmodel = "o3"\n')
    env = {k: v for k, v in base.items() if k not in ("CODEX_HOME", "CLAUDE_CONFIG_DIR")}
    # Only our own bin dir on PATH: an agent installed on this machine is not part of the story.
    env.update(HOME=home, XDG_CONFIG_HOME=os.path.join(home, ".config"),
               PATH=os.path.dirname(cli))
    say("How did those agents get wired to kioku-mesh? One command finds the coding agents "
        "installed for a user and shows what it would add to each. Here a fresh HOME has "
        "Codex CLI and Gemini CLI; --dry-run writes nothing.")
    proc = subprocess.run([cli, "setup", "--dry-run"], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"demo step failed: kioku-mesh setup --dry-run: {proc.stderr.strip()}")
    plan, *diffs = proc.stdout.split("\n# ")
    print("\n  $ kioku-mesh setup --dry-run")
    print(textwrap.indent(plan.rstrip(), "    "))
    # Each diff is there in full; the demo shows one, the instruction block Codex will read.
    block = next(d for d in diffs if d.startswith("Codex CLI: instructions"))
    print(f"    ... {len(diffs)} diffs follow; one of them:\n")
    print(textwrap.indent("# " + block.rstrip(), "    "))
    say("Run without --dry-run, it asks before it writes (or takes --yes), backs every file "
        "up, and `kioku-mesh setup --uninstall` gives each file back as it was. "
        "`kioku-mesh doctor` then checks that each agent's wiring still works.")

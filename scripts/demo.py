"""`make demo`: two coding agents share one host's memory, told as a short story.

Runs the real `kioku-mesh` CLI in a throw-away state dir, so nothing touches
your own memories.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap


def main() -> int:
    cli = shutil.which("kioku-mesh")
    if cli is None:
        print("kioku-mesh is not on PATH: run `make demo` (it installs into .venv)", file=sys.stderr)
        return 1
    root = tempfile.mkdtemp(prefix="kioku-demo-")
    base = {
        k: v for k, v in os.environ.items() if not k.startswith(("KIOKU_MESH_", "MESH_MEM_"))
    }
    base.update(KIOKU_MESH_STATE_DIR=os.path.join(root, "state"),
                KIOKU_MESH_CONFIG=os.path.join(root, "config.yaml"), NO_COLOR="1")
    agents = {
        "claude": {"KIOKU_MESH_AGENT_FAMILY": "claude", "KIOKU_MESH_CLIENT_ID": "claude-code"},
        "codex": {"KIOKU_MESH_AGENT_FAMILY": "codex", "KIOKU_MESH_CLIENT_ID": "codex-cli"},
    }

    def say(text: str) -> None:
        print("\n" + textwrap.fill(text, 78))

    def run(agent: str, *args: str, stdin: str | None = None, show: bool = True) -> str:
        env = dict(base, **agents[agent])
        shown = " ".join(a if " " not in a else repr(a) for a in args)
        proc = subprocess.run([cli, *args], input=stdin, capture_output=True, text=True, env=env)
        if show:
            print(f"\n  [{agent}] $ kioku-mesh {shown}")
            print(textwrap.indent((proc.stdout + proc.stderr).rstrip(), "    "))
        if proc.returncode != 0:
            raise SystemExit(f"demo step failed: kioku-mesh {shown}")
        return proc.stdout

    try:
        print("kioku-mesh demo: shared memory for coding agents (local mode, no daemon)")
        print(f"(state in {root}; removed at the end)")
        say("Monday. Claude Code is working on the payments service. It settles a design "
            "question and records the decision, so no other agent reopens it.")
        run("claude", "init", "--mode", "local")
        run("claude", "save",
            "Store money as integer cents (BIGINT) everywhere; floats caused rounding drift "
            "in refunds. Convert only at the API edge.",
            "--subject", "Money is stored as integer cents", "-p", "payments",
            "--memory-type", "decision", "--importance", "4", "-t", "money,schema")
        say("Later it tracks down a flaky test and saves the root cause, with the file it fixed.")
        run("claude", "save", "-", "--subject", "Flaky refund test: shared Redis between workers",
            "-p", "payments", "--memory-type", "bug", "--importance", "3",
            "--source-files", "tests/test_refunds.py", "-t", "flaky,ci",
            stdin="The refund tests failed one run in ten because pytest-xdist workers shared "
                  "one Redis database. Root cause: fixed DB index 0. Fix: one DB index per worker "
                  "(worker id + 1).")
        say("Tuesday. Codex CLI opens the same repository in a new session. It knows nothing "
            "of Monday, so it starts by recalling what the team's agents learned.")
        run("codex", "recall", "-p", "payments")
        say("It is about to write a currency conversion, so it searches before deciding anything. "
            "A partial word is enough.")
        run("codex", "search", "cents")
        say("CI fails with a flaky test; Codex asks the memory before debugging from scratch.")
        run("codex", "search", "flaky refund")
        hit = json.loads(run("codex", "search", "flaky refund", "--json", show=False))["hits"][0]
        say(f"The answer came from {hit['agent_family']}/{hit['client_id']} in session "
            f"{hit['session_id']}. Codex reads the whole record by its short id.")
        run("codex", "get-memory", hit["observation_id"][:8])
        say("Both agents wrote to and read from one SQLite store on this host. Nothing was "
            "started and nothing touched the network.")
        from demo_mcp import run_mcp_act

        run_mcp_act(base)
        say("Four agents in four different tools shared one memory, all on this host.")
        from demo_setup import run_setup_act

        run_setup_act(cli, base, root, say)
        from demo_hooks import run_hooks_act

        run_hooks_act(cli, base, root, say)
        from demo_mesh import run_mesh_act

        run_mesh_act(cli, base, root, say)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Demo act: a session hook shows a new Claude Code session what the team already knows."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from collections.abc import Callable


def run_hooks_act(cli: str, base: dict[str, str], root: str, say: Callable[[str], None]) -> None:
    home = os.path.join(root, "hooks-home")
    repo = os.path.join(home, "src", "payments")
    os.makedirs(os.path.join(repo, ".git"))
    env = dict(base, HOME=home, CLAUDE_CONFIG_DIR="")
    say("Later that day. Nobody has to ask for the memories any more: a session hook hands them to "
        "every new Claude Code session. Installing it edits Claude Code's settings.json "
        "(here in a throw-away HOME).")
    proc = subprocess.run([cli, "hooks", "install", "--client", "claude-code"], env=env,
                          capture_output=True, text=True, check=True)
    print("\n  $ kioku-mesh hooks install --client claude-code")
    print(textwrap.indent(proc.stdout.rstrip(), "    "))
    with open(os.path.join(home, ".claude", "settings.json"), encoding="utf-8") as handle:
        command = json.load(handle)["hooks"]["SessionStart"][0]["hooks"][0]["command"]
    say("A session starts in the payments repository. Claude Code runs the hook with the event "
        "as JSON on stdin and adds the answer's additionalContext to the model's context. This "
        "is exactly what the model receives, fenced as reference data:")
    event = json.dumps({"session_id": "demo", "cwd": repo, "hook_event_name": "SessionStart",
                        "source": "startup", "transcript_path": os.path.join(repo, "t.jsonl")})
    proc = subprocess.run(["sh", "-c", command], input=event, env=env, capture_output=True,
                          text=True, check=True)
    context = json.loads(proc.stdout)["hookSpecificOutput"]["additionalContext"]
    print(textwrap.indent(context, "    | "))

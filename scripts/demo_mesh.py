"""Act three of `make demo`: a hub and a spoke replicate over Zenoh on 127.0.0.1.

Both are real `kioku-mesh node run` processes with their own state dirs and
config files, as on two machines.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import textwrap
import time
from collections.abc import Callable

from demo_mcp import mcp_call


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(what: str, check: Callable[[], bool], timeout: float = 20.0) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if check():
            return time.monotonic() - start
        time.sleep(0.05)
    raise SystemExit(f"demo: timed out waiting for {what}")


def _peers_online(env: dict[str, str]) -> int:
    proc = subprocess.run(["kioku-mesh", "status", "--json"], capture_output=True, text=True,
                          env=env)
    return len(json.loads(proc.stdout)["mesh"].get("peers_online") or []) if proc.stdout else 0


def run_mesh_act(cli: str, base: dict[str, str], root: str, say: Callable[[str], None]) -> None:
    port = _free_port()
    endpoint = f"tcp/127.0.0.1:{port}"
    hosts = {}
    for name in ("hub", "spoke"):
        hosts[name] = dict(base, KIOKU_MESH_STATE_DIR=os.path.join(root, name, "state"),
                           KIOKU_MESH_CONFIG=os.path.join(root, name, "config.yaml"))
    procs: dict[str, subprocess.Popen[str]] = {}

    def cli_run(host: str, agent: tuple[str, str], *args: str, show: bool = True) -> str:
        env = dict(hosts[host], KIOKU_MESH_AGENT_FAMILY=agent[0], KIOKU_MESH_CLIENT_ID=agent[1])
        proc = subprocess.run([cli, *args], capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            raise SystemExit(f"demo step failed: kioku-mesh {' '.join(args)}: {proc.stderr}")
        if show:
            print(f"\n  [{agent[0]} on the {host}] $ kioku-mesh {shlex.join(args)}")
            print(textwrap.indent(proc.stdout.rstrip(), "    "))
        return proc.stdout

    def start(host: str) -> None:
        procs[host] = subprocess.Popen([cli, "node", "run"], env=hosts[host], text=True,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(host: str) -> None:
        procs[host].send_signal(signal.SIGTERM)
        procs[host].wait(timeout=15)

    def has(host: str, subject: str) -> bool:
        """The memory titled `subject` is on `host` (its best hit for the title)."""
        out = cli_run(host, ("codex", "codex-cli"), "search", f'"{subject}"', "--json",
                      show=False)
        hits = json.loads(out)["hits"]
        return bool(hits) and hits[0]["subject"] == subject

    claude, codex = ("claude", "claude-code"), ("codex", "codex-cli")
    try:
        say("Thursday. The team adds a second machine. The desktop becomes the hub (always "
            "on, listening); the laptop is a spoke that dials it. Two commands set them up:")
        cli_run("hub", codex, "init", "--mode", "hub", "--listen", endpoint)
        cli_run("spoke", claude, "init", "--mode", "spoke", "--connect", endpoint)
        start("hub")
        start("spoke")
        _wait("the spoke to connect", lambda: _peers_online(hosts["hub"]) >= 1)
        say("Both nodes run (`kioku-mesh node run`). On the laptop, Claude Code saves "
            "through MCP as usual; the save returns at once and the node replicates it.")
        text = mcp_call(dict(hosts["spoke"], KIOKU_MESH_AGENT_FAMILY="claude",
                             KIOKU_MESH_CLIENT_ID="claude-code"), "save_observation", {
            "subject": "Deploys go through the staging hub first",
            "content": "Never deploy payments straight to prod: push to staging, wait for the "
                       "smoke suite (about 4 minutes), then promote the same image tag.",
            "project": "payments", "memory_type": "pattern", "importance": 4})
        print(f"\n  [claude on the spoke, via MCP] save_observation(...)\n    {text}")
        _wait("replication to the hub",
              lambda: has("hub", "Deploys go through the staging hub first"))
        say("A moment later it is on the desktop, where Codex recalls it:")
        cli_run("hub", codex, "recall", "-p", "payments", "--max-chars", "600")
        say("The laptop goes to sleep (its node stops). Meanwhile Codex on the desktop "
            "records two more things.")
        stop("spoke")
        for subject, body in (
            ("Smoke suite needs STRIPE_TEST_KEY", "The staging smoke suite reads "
             "STRIPE_TEST_KEY from the CI vault; without it every payment test is skipped."),
            ("Image tags are the git SHA", "Promote by git SHA tag, never by 'latest'.")):
            cli_run("hub", codex, "save", body, "--subject", subject, "-p", "payments",
                    "--memory-type", "config")
        say("The laptop wakes up. Its node reconnects, compares digests with the hub and "
            "fetches what it missed: nothing written while it was away is lost.")
        start("spoke")
        took = _wait("catch-up", lambda: has("spoke", "Smoke suite needs STRIPE_TEST_KEY")
                     and has("spoke", "Image tags are the git SHA"))
        say(f"Caught up {took:.1f} s after the node restarted:")
        cli_run("spoke", claude, "search", "smoke tags SHA", "-p", "payments")
        cli_run("spoke", claude, "status")
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()

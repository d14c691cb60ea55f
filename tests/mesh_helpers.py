"""Helpers for the multi-process mesh tests (not a test module).

Every node is a real `kioku-mesh` subprocess on 127.0.0.1 with its own
isolated home and state dir. Nothing here sleeps to synchronise: tests poll
for a condition with `wait_until` and a timeout.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

CLI = [sys.executable, "-m", "kioku_mesh.cli.main"]
STOP_TIMEOUT_S = 5.0  # a node must exit this quickly on SIGTERM ("no hang on exit")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def endpoint(port: int) -> str:
    return f"tcp/127.0.0.1:{port}"


def tls_endpoint(ep: str | None) -> str:
    """The tls/ form of a tcp/ endpoint (what `init --tls` writes)."""
    assert ep is not None
    return "tls/" + ep[4:] if ep.startswith("tcp/") else ep


def wait_until(predicate: Callable[[], Any], timeout: float = 20.0, interval: float = 0.05,
               message: str | Callable[[], str] = "") -> Any:
    """Poll `predicate()` until it returns something truthy and return that;
    raise AssertionError (with `message`) when `timeout` seconds pass first."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            text = message() if callable(message) else message
            raise AssertionError(f"condition not met within {timeout}s" + (f": {text}" if text else ""))
        time.sleep(interval)


def new_id() -> str:
    return uuid.uuid4().hex


def now_wire() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def wire_observation(oid: str | None = None, **fields: Any) -> dict[str, Any]:
    """A complete observation in the reference wire format (importance an int)."""
    obs: dict[str, Any] = {
        "observation_id": oid or new_id(),
        "created_at": now_wire(),
        "content": "reference peer content",
        "subject": "reference subject",
        "summary": "a memory written by a reference-format peer",
        "project": "interop",
        "tags": ["interop"],
        "memory_type": "note",
        "importance": 3,
        "agent_family": "claude",
        "client_id": "claude-code",
        "pc_id": "f" * 32,
        "session_id": "20261125T120000Z-0badc0de",
        "source_files": [],
        "references": [],
        "supersedes": [],
        "visibility": "mesh",
        "scope_id": "",
        "expires_at": "",
    }
    obs.update(fields)
    return obs


def obs_key(obs: dict[str, Any], kind: str = "obs") -> str:
    """The canonical key of a wire observation (mesh/user/team tier)."""
    tier = obs["visibility"]
    head = "mem/mesh" if tier == "mesh" else f"mem/{tier}/{obs['scope_id']}"
    return "/".join([head, kind, obs["agent_family"], obs["client_id"], obs["pc_id"],
                     obs["session_id"], obs["observation_id"]])


def write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


# ------------------------------------------------------------------ node


class Node:
    """One `kioku-mesh` node process: start, stop (SIGTERM, must exit), kill9."""

    def __init__(self, host: Host, args: tuple[str, ...] = ("node", "run")) -> None:
        self.host = host
        self.args = args
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = host.root / "node.log"
        self.starts = 0

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, wait: bool = True, timeout: float = 15.0) -> Node:
        assert not self.alive, f"{self.host.name}: node already running"
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(f"--- start #{self.starts} {' '.join(self.args)}\n".encode())
            self.proc = subprocess.Popen(
                [*CLI, *self.args], env=self.host.env, cwd=str(self.host.home),
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            )
        if wait:
            wait_until(self._running, timeout,
                       message=lambda: f"{self.host.name} node not running\n{self.log_tail()}")
        return self

    def _running(self) -> bool:
        if not self.alive:
            raise AssertionError(f"{self.host.name} node exited early\n{self.log_tail()}")
        data = self.host.node_status()
        return bool(data and data.get("state") == "running"
                    and self.proc is not None and data.get("pid") == self.proc.pid)

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int:
        """SIGTERM; the node must exit cleanly within `timeout` seconds."""
        proc = self.proc
        assert proc is not None, "never started"
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill9()
                raise AssertionError(
                    f"{self.host.name} node hung: still running {timeout}s after SIGTERM\n"
                    f"{self.log_tail()}") from None
        code = proc.returncode
        assert code == 0, f"{self.host.name} node exited {code} on SIGTERM\n{self.log_tail()}"
        return code

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def log_count(self, needle: str) -> int:
        """How many lines of the node's log (every start) contain `needle`."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return 0
        return sum(needle in line for line in text.splitlines())

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


# ------------------------------------------------------------------ host


@dataclass
class Host:
    """An isolated kioku-mesh host (home, config, state) and its node."""

    name: str
    root: Path
    env: dict[str, str]
    endpoint: str | None = None  # where a hub listens
    node: Node = field(init=False)

    def __post_init__(self) -> None:
        self.node = Node(self)

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def state_dir(self) -> Path:
        return Path(self.env["KIOKU_MESH_STATE_DIR"])

    @property
    def db_path(self) -> Path:
        return self.state_dir / "kioku.db"

    # -------------------------------------------------------------- CLI

    def run(self, *args: str, check: bool = True, input: str | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([*CLI, *args], input=(input or "").encode(), capture_output=True,
                              env=self.env, cwd=str(self.home), timeout=timeout)
        res = subprocess.CompletedProcess(proc.args, proc.returncode,
                                          proc.stdout.decode("utf-8", "replace"),
                                          proc.stderr.decode("utf-8", "replace"))
        if check and res.returncode != 0:
            raise AssertionError(f"{self.name}: {args} failed ({res.returncode}): {res.stderr}")
        return res

    def save(self, content: str, subject: str | None = None, *args: str) -> str:
        res = self.run("save", content, "-s", subject or content[:40], *args, "--json")
        return str(json.loads(res.stdout)["observation_id"])

    def delete(self, oid: str) -> None:
        self.run("delete", oid, "--reason", "test", "--json")

    def purge(self, oid: str) -> None:
        self.run("purge", oid, "--json")

    def get(self, oid: str, *, include_hidden: bool = False) -> subprocess.CompletedProcess[str]:
        args = ["get-memory", oid, "--json"] + (["--include-hidden"] if include_hidden else [])
        return self.run(*args, check=False)

    def status(self) -> dict[str, Any]:
        return dict(json.loads(self.run("status", "--json").stdout))

    def import_file(self, path: Path) -> dict[str, Any]:
        return dict(json.loads(self.run("import", str(path), "--json", timeout=120).stdout))

    def enroll(self, ca: Host, cn: str, sans: Iterable[str] = ("127.0.0.1",)) -> None:
        """`tls request --cn CN --san ... | (on ca) tls sign | tls install`."""
        req = self.run("tls", "request", "--cn", cn, "--san", *sans).stdout
        bundle = ca.run("tls", "sign", input=req).stdout
        self.run("tls", "install", input=bundle)

    def tls_block(self) -> dict[str, Any]:
        """The Zenoh `transport.link.tls` block built from this host's installed files."""
        from kioku_mesh.core.config import Settings, read_yaml
        from kioku_mesh.tls.node_config import zenoh_tls_block

        config = self.home / ".config" / "kioku-mesh" / "config.yaml"
        return zenoh_tls_block(Settings(state_dir=self.state_dir, config_path=config,
                                        project_config_path=None, raw_global=read_yaml(config)))

    def set_mesh_option(self, name: str, value: Any) -> None:
        """Change one setting of the `mesh:` section `init` wrote."""
        from kioku_mesh.core.config import read_yaml, write_yaml

        path = self.home / ".config" / "kioku-mesh" / "config.yaml"
        data = read_yaml(path)
        data.setdefault("mesh", {})[name] = value
        write_yaml(path, data)

    # ----------------------------------------------- cheap direct reads (for polling)

    def node_status(self) -> dict[str, Any] | None:
        try:
            data = json.loads((self.state_dir / "node-status.json").read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def pc_id(self) -> str:
        return (self.state_dir / "pc_id").read_text().strip()

    def _query(self, sql: str) -> set[str]:
        if not self.db_path.exists():
            return set()
        con = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=10)
        try:
            return {row[0] for row in con.execute(sql)}
        finally:
            con.close()

    def obs_ids(self) -> set[str]:
        return self._query("SELECT id FROM observations")

    def tomb_ids(self) -> set[str]:
        return self._query("SELECT id FROM tombstones")

    def purged_ids(self) -> set[str]:
        return self._query("SELECT id FROM purged")

    def has_all(self, ids: Iterable[str]) -> bool:
        return set(ids) <= self.obs_ids()

    def online_peers(self) -> set[str]:
        data = self.node_status() or {}
        return {pc for pc, p in (data.get("peers") or {}).items() if p.get("online")}

    def sees(self, *others: Host) -> bool:
        return {o.pc_id() for o in others} <= self.online_peers()

    def synced_since(self, t: float, *others: Host) -> bool:
        """True once a sync round with each of `others` that *started* after
        time `t` has completed without error."""
        peers = (self.node_status() or {}).get("peers") or {}
        for other in others:
            p = peers.get(other.pc_id()) or {}
            done, took = p.get("last_sync"), p.get("seconds") or 0.0
            if not done or p.get("error") or done - took < t:
                return False
        return True


class Cluster:
    """Creates hosts and guarantees every node it started is gone at the end."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.hosts: list[Host] = []

    def host(self, name: str, extra_env: dict[str, str] | None = None) -> Host:
        """An isolated host; `extra_env` (e.g. KIOKU_MESH_USER_ID) is added last."""
        root = self.root / name
        home = root / "home"
        home.mkdir(parents=True)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("KIOKU_MESH_", "MESH_MEM_", "XDG_", "ZENOH"))}
        env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"),
                   XDG_DATA_HOME=str(home / ".local" / "share"),
                   KIOKU_MESH_STATE_DIR=str(root / "state"),
                   KIOKU_MESH_CLIENT_ID=f"test-{name}", PYTHONUNBUFFERED="1")
        env.update(extra_env or {})
        host = Host(name, root, env)
        self.hosts.append(host)
        return host

    def hub(self, name: str, *, connect: Iterable[str] = (), port: int | None = None,
            tls: bool = False, env: dict[str, str] | None = None) -> Host:
        """A hub host, initialised (node not started). With `tls`, `init --tls`:
        its endpoints become tls/ ones (host.endpoint keeps the tcp/ form)."""
        host = self.host(name, env)
        host.endpoint = endpoint(port or free_port())
        dial = [a for ep in connect for a in ("--connect", ep)]
        host.run("init", "--mode", "hub", "--listen", host.endpoint, *dial,
                 *(["--tls"] if tls else []))
        return host

    def spoke(self, name: str, *hubs: Host | str, tls: bool = False,
              env: dict[str, str] | None = None) -> Host:
        host = self.host(name, env)
        dial = [a for h in hubs for a in ("--connect", h if isinstance(h, str) else str(h.endpoint))]
        host.run("init", "--mode", "spoke", *dial, *(["--tls"] if tls else []))
        return host

    def connected_pair(self) -> tuple[Host, Host]:
        """A hub and a spoke, both nodes running and seeing each other."""
        hub = self.hub("hub")
        spoke = self.spoke("spoke", hub)
        hub.node.start()
        spoke.node.start()
        wait_until(lambda: hub.sees(spoke) and spoke.sees(hub), 15)
        return hub, spoke

    def close(self) -> None:
        """Stop whatever is still running (SIGTERM, then SIGKILL if it hangs)."""
        hung = []
        for host in self.hosts:
            if host.node.alive:
                try:
                    host.node.stop()
                except AssertionError as exc:
                    hung.append(str(exc))
        assert not hung, "\n".join(hung)


def raw_session(*endpoints: str, tls: dict[str, Any] | None = None) -> Any:
    """A bare zenoh client session (a stand-in for a reference peer), scouting off;
    `tls` is a `transport.link.tls` block (e.g. `Host.tls_block()`) for tls/ endpoints.
    Use it as a context manager so it is closed."""
    import zenoh

    conf: dict[str, Any] = {
        "mode": "client",
        "connect": {"endpoints": list(endpoints)},
        "listen": {"endpoints": []},
        "scouting": {"multicast": {"enabled": False}, "gossip": {"enabled": False}},
    }
    if tls is not None:
        conf["transport"] = {"link": {"tls": tls}}
    return zenoh.open(zenoh.Config.from_json5(json.dumps(conf)))


def remote_ports(pid: int) -> set[int]:
    """Remote TCP ports of the established connections a process holds (Linux /proc),
    e.g. to tell which hub a spoke is attached to. Empty where /proc is missing."""
    inodes = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    try:
        for fd in fd_dir.iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        return set()
    ports = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if cols[3] == "01" and cols[9] in inodes:  # 01 = ESTABLISHED
                ports.add(int(cols[2].rsplit(":", 1)[1], 16))
    return ports


def port_of(ep: str | None) -> int:
    assert ep is not None
    return int(ep.rsplit(":", 1)[1])


def all_converged(hosts: Iterable[Host], ids: Iterable[str]) -> bool:
    wanted = set(ids)
    return all(wanted <= h.obs_ids() for h in hosts)

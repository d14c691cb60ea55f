"""MCP server benchmark: `kioku-mesh-mcp` over stdio, side by side with a reference install.

Drives the server the way an agent's client does: the official `mcp` SDK
client (`stdio_client` + `ClientSession`) spawns it as a subprocess.

- start: spawn, `initialize`, one `search_memory`; wall time from before the
  spawn to the tool result (and to the `initialize` answer), plus the
  server's own CPU time up to that result (utime + stime from
  /proc/<pid>/stat). Runs alternate between the systems so noise hits both.
- latency: one long-lived session per system, both open at once; three
  phases, calls alternating ours / reference: `save_observation` (new
  ~200-1500 byte memories drawn from the same corpus generator, so the
  near-duplicate checks meet a realistic vocabulary), `search_memory` (the 32
  queries of bench/queries.py, limit 10) and an MCP `ping` (the protocol + SDK
  floor). The server's CPU time over a phase / calls = its CPU per call.
- memory: VmRSS and VmHWM of the server process from /proc/<pid>/status after
  the latency calls. The pid: the SDK does not expose its process object, so
  we walk /proc for our own child (PPid = this process) whose cmdline holds
  the server script and whose environment has our KIOKU_MESH_STATE_DIR.

The reference system is the released kioku-mesh on PyPI, installed in its own
venv (not the project's): `python3 -m venv /tmp/refvenv &&
/tmp/refvenv/bin/pip install kioku-mesh==1.2.0`. It runs in local mode
(KIOKU_MESH_BACKEND=local, SQLite under KIOKU_MESH_STATE_DIR/local, no zenohd)
with XDG_CONFIG_HOME pointing at an empty directory, and is filled with the
same corpus through its Python API (LocalBackend.put_observation, one commit
per memory: it has no bulk import). Both populated stores are cached under
bench/results/. Without the reference venv only our numbers are measured, and
above --ref-max memories (default 20,000) the reference is skipped: filling it
is quadratic (see REF_MAX).
Results and their reading: docs/benchmarks.md, section "MCP server".

    .venv/bin/python bench/bench_mcp.py --sizes 0,10000,100000   # ~8 min once stores are built
    .venv/bin/python bench/bench_mcp.py --sizes 0,2000 --start-runs 3 --calls 50   # quick
    .venv/bin/python bench/bench_mcp.py --no-ref                                     # ours only
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import anyio
import common
import corpus
import queries
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

TARGET_START_S = 1.0
TARGET_P50_MS = 3.0
TARGET_P99_MS = 10.0
TARGET_RSS_MB = 100.0

REF_VERSION = "1.2.0"
REF_VENV = Path(os.environ.get("KIOKU_BENCH_REF_VENV", "/tmp/refvenv"))
SEARCH_LIMIT = 10
# Save payloads come from the corpus generator past the largest store size, so
# they are new memories in the stores' own vocabulary.
SAVE_OFFSET = 100_000
SAVE_POOL = 1000
LARGE = 50_000  # store size from which the large-store run counts apply
# The reference cannot be filled much past 10k memories in useful time: every
# index write of kioku-mesh 1.2.0 runs `DELETE FROM obs_fts WHERE
# observation_id = ?` on an UNINDEXED FTS5 column, a full scan of the FTS table
# (8.5 ms per memory at 10k), so filling is quadratic (10k: ~2.5 min; 100k:
# hours), through put_observation and through its start-up rebuild alike.
REF_MAX = 20_000
CLK_TCK = os.sysconf("SC_CLK_TCK")

# Runs under the reference venv's Python: fill a local-mode store from a corpus
# JSONL through its backend API. mode "api": LocalBackend.put_observation per
# memory (raw.db row + index upsert, one commit each: what its save does).
# mode "raw" (large stores, where "api" takes far too long): LocalRawStore.put_obs
# per memory, then one LocalBackend open, whose start-up rebuild
# (rebuild_from_raw_records, run on every open anyway) builds the index.
# Tombstone lines go through its raw store (and the index, in "api" mode) as
# LocalBackend.put_tombstone does, keeping their deleted_at.
REF_POPULATE = r"""
import json, sys, time
from kioku_mesh.backend import get_backend, reset_backend
from kioku_mesh.core.models import Observation, Tombstone
path, mode = sys.argv[1], sys.argv[2]
start = time.perf_counter()
backend = get_backend()
assert type(backend).__name__ == "LocalBackend", type(backend)
n = 0
with open(path, encoding="utf-8") as f:
    for line in f:
        if "content" in json.loads(line):
            obs = Observation.from_json(line)
            if mode == "api":
                backend.put_observation(obs)
            else:
                backend._raw_store.put_obs(obs)
            n += 1
        else:
            tomb = Tombstone.from_json(line)
            backend._raw_store.put_tomb(tomb)
            if mode == "api":
                backend._idx.mark_deleted(tomb.observation_id, tomb.deleted_at)
reset_backend()
if mode == "raw":
    get_backend()
    reset_backend()
print(n, "memories,", mode, "mode,", round(time.perf_counter() - start, 1), "s")
"""
REF_API_MAX = 20_000  # larger stores are filled in "raw" mode


# -------------------------------------------------------------------- systems


@dataclass
class System:
    key: str  # "ours" or "ref"
    label: str
    command: str

    def env(self, state: Path) -> dict[str, str]:
        if self.key == "ours":
            env = common.clean_env(state)
        else:
            # No PYTHONPATH: a source tree put first on it for our side must
            # not shadow the reference's own kioku_mesh.
            env = {k: v for k, v in os.environ.items()
                   if not k.startswith(("KIOKU_MESH_", "MESH_MEM_", "ZENOH_", "PYTHON"))}
            env.update(KIOKU_MESH_BACKEND="local", KIOKU_MESH_STATE_DIR=str(state),
                       XDG_CONFIG_HOME=str(state / "xdg-config"), NO_COLOR="1")
        env.update(KIOKU_MESH_AGENT_FAMILY="claude", KIOKU_MESH_CLIENT_ID="claude-code")
        return env

    def params(self, state: Path) -> StdioServerParameters:
        # cwd: an empty directory, so no project config (.kioku-mesh.yaml) is found.
        return StdioServerParameters(command=self.command, env=self.env(state),
                                     cwd=str(state.parent / "cwd"))

    def store(self, count: int, log: Any) -> Path | None:
        """A cached populated state dir (a template: copy before use), None when empty."""
        if count == 0:
            return None
        return common.cached_store(count, log) if self.key == "ours" else ref_store(count, log)

    def fresh_state(self, count: int, prefix: str, log: Any) -> Path:
        """A private state dir (copy of the cached store) inside its own work dir."""
        work = common.temp_dir(f"mcp-{self.key}-{prefix}{count}")
        (work / "cwd").mkdir()
        state = work / "state"
        template = self.store(count, log)
        if template is None:
            state.mkdir()
        else:
            shutil.copytree(template, state)
        return state

    def save_args(self, rec: dict[str, Any]) -> dict[str, Any]:
        keys = ("content", "subject", "summary", "project", "tags", "memory_type",
                "importance", "source_files", "references")
        return {k: rec[k] for k in keys}

    def search_args(self, q: queries.Query) -> dict[str, Any]:
        args: dict[str, Any] = {"query": q.text, "limit": SEARCH_LIMIT}
        if q.project:
            args["project"] = q.project
        return args


def systems(with_ref: bool, log: Any) -> list[System]:
    ours = System("ours", "kioku-mesh (this checkout)",
                  str(Path(sys.executable).with_name("kioku-mesh-mcp")))
    out = [ours]
    ref_cmd = REF_VENV / "bin" / "kioku-mesh-mcp"
    if with_ref:
        if ref_cmd.exists():
            out.append(System("ref", f"kioku-mesh {ref_version()} (PyPI)", str(ref_cmd)))
        else:
            log(f"  reference not found at {ref_cmd}: measuring ours only "
                f"(python3 -m venv {REF_VENV} && {REF_VENV}/bin/pip install "
                f"kioku-mesh=={REF_VERSION})")
    return out


def ref_version() -> str:
    out = subprocess.run(
        [str(REF_VENV / "bin" / "python"), "-c",
         "import importlib.metadata as m; print(m.version('kioku-mesh'))"],
        capture_output=True, text=True, check=True, env=System("ref", "", "").env(Path("/")),
    )
    return out.stdout.strip()


def ref_store(count: int, log: Any) -> Path:
    mode = "api" if count <= REF_API_MAX else "raw"
    name = (f"kioku-mesh-{ref_version()}-n{count}-s{common.SEED}-g{corpus.GENERATOR_VERSION}"
            f"-{mode}")
    target = common.RESULTS / "ref-stores" / name
    if (target / "local" / "raw.db").exists():
        return target
    jsonl = common.corpus_file(count)
    work = common.temp_dir(f"refbuild{count}")
    state = work / "state"
    state.mkdir()
    log(f"  filling the reference {count:,}-memory store ({mode} mode)...")
    ref = System("ref", "", "")
    start = time.perf_counter()
    proc = subprocess.run([str(REF_VENV / "bin" / "python"), "-c", REF_POPULATE, str(jsonl), mode],
                          env=ref.env(state), cwd=str(work), capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"reference populate failed: {proc.stderr[-800:]}")
    log(f"  filled in {time.perf_counter() - start:.1f} s ({proc.stdout.strip()})")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(target, ignore_errors=True)
    shutil.move(str(state), str(target))
    shutil.rmtree(work, ignore_errors=True)
    return target


def save_payloads(n: int) -> list[dict[str, Any]]:
    """`n` new memories from the corpus generator (records past SAVE_OFFSET), cached."""
    pool = max(n, SAVE_POOL)
    path = common.RESULTS / "corpora" / (
        f"mcp-saves-v{corpus.GENERATOR_VERSION}-s{common.SEED}-o{SAVE_OFFSET}-n{pool}.jsonl")
    if not path.exists():
        n = pool
        records = (r for r in corpus.generate(SAVE_OFFSET + 2 * n, common.SEED) if "content" in r)
        chosen = list(islice(records, SAVE_OFFSET, SAVE_OFFSET + n))
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in chosen),
                       encoding="utf-8")
        tmp.replace(path)
    lines = path.read_text(encoding="utf-8").splitlines()[:n]
    return [json.loads(line) for line in lines]


# ---------------------------------------------------------------- the process


def find_server_pid(system: System, state: Path) -> int:
    """Our child process running `system.command` with KIOKU_MESH_STATE_DIR=state."""
    me = os.getpid()
    marker = f"KIOKU_MESH_STATE_DIR={state}".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
            ppid = re.search(r"^PPid:\s+(\d+)", status, re.M)
            if not ppid or int(ppid.group(1)) != me:
                continue
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            if system.command.encode() not in argv:
                continue
            if marker in Path(f"/proc/{entry}/environ").read_bytes().split(b"\0"):
                return int(entry)
        except (OSError, ValueError):
            continue
    raise RuntimeError(f"server process for {system.key} ({state}) not found")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def memory_mb(pid: int) -> dict[str, float]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            out[name] = int(value.split()[0]) / 1024
    return out


def check_result(result: Any, what: str) -> Any:
    if result.is_error:
        text = result.content[0].text if result.content else ""
        raise RuntimeError(f"{what} failed: {text[:300]}")
    return result


# ---------------------------------------------------------------- measurements


async def start_once(system: System, state: Path, query: queries.Query) -> dict[str, float]:
    errlog = open(state.parent / "stderr.log", "a")  # noqa: SIM115 - closed below
    try:
        t0 = time.perf_counter()
        async with stdio_client(system.params(state), errlog=errlog) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                t_init = time.perf_counter()
                result = await session.call_tool("search_memory", system.search_args(query))
                t_first = time.perf_counter()
                check_result(result, f"{system.key} search_memory")
                pid = find_server_pid(system, state)
                cpu = cpu_seconds(pid)
                mem = memory_mb(pid)
        t_closed = time.perf_counter()
    finally:
        errlog.close()
    return {"first_s": t_first - t0, "init_s": t_init - t0, "cpu_s": cpu,
            "rss_mb": mem["VmRSS"], "close_s": t_closed - t_first}


async def bench_start(syss: list[System], count: int, runs: int, ref_runs: int,
                      log: Any) -> dict[str, Any]:
    query = queries.cli_queries(common.SEED)["typical"]
    states = {s.key: s.fresh_state(count, "start", log) for s in syss}
    out: dict[str, Any] = {s.key: {"first_s": [], "init_s": [], "cpu_s": [], "rss_mb": []}
                           for s in syss}
    load_before = common.load()
    for s in syss:  # untimed: creates pc_id / db files, warms the page cache
        await start_once(s, states[s.key], query)
    for i in range(runs):
        order = syss if i % 2 == 0 else syss[::-1]
        for s in order:
            if s.key == "ref" and i >= ref_runs:
                continue
            r = await start_once(s, states[s.key], query)
            for k in out[s.key]:
                out[s.key][k].append(r[k])
    for s in syss:
        shutil.rmtree(states[s.key].parent, ignore_errors=True)
    return {"query": query.label(), "runs": {s.key: len(out[s.key]["first_s"]) for s in syss},
            "load_before": load_before,
            "load_after": common.load(), "systems": out}


@dataclass
class Live:
    system: System
    state: Path
    session: ClientSession
    pid: int
    lat: dict[str, list[float]] = field(default_factory=lambda: {
        "save_observation": [], "search_memory": [], "ping": []})
    by_category: dict[str, list[float]] = field(default_factory=dict)


async def timed(live: Live, name: str, args: dict[str, Any] | None = None,
                record: bool = True, category: str = "") -> None:
    t0 = time.perf_counter()
    if name == "ping":
        await live.session.send_ping()
    else:
        check_result(await live.session.call_tool(name, args), f"{live.system.key} {name}")
    if record:
        elapsed = time.perf_counter() - t0
        live.lat[name].append(elapsed)
        if category:
            live.by_category.setdefault(category, []).append(elapsed)


async def bench_latency(syss: list[System], count: int, calls: int, log: Any) -> dict[str, Any]:
    qs = queries.query_set(common.SEED)
    saves = save_payloads(calls + 10)
    lives: list[Live] = []
    load_before = common.load()
    async with contextlib.AsyncExitStack() as stack:
        for s in syss:
            state = s.fresh_state(count, "lat", log)
            errlog = stack.enter_context(open(state.parent / "stderr.log", "a"))
            read, write = await stack.enter_async_context(
                stdio_client(s.params(state), errlog=errlog))
            session = await stack.enter_async_context(ClientSession(read, write))
            await session.initialize()
            lives.append(Live(s, state, session, find_server_pid(s, state)))
        for i in range(10):  # warm-up, untimed
            for live in lives:
                await timed(live, "save_observation", live.system.save_args(saves[i]), False)
                await timed(live, "search_memory", live.system.search_args(qs[i % len(qs)]), False)
        # One phase per tool, calls alternating between the systems; the
        # server's CPU time over a phase / calls = its CPU cost per call.
        cpu_per_call: dict[str, dict[str, float]] = {live.system.key: {} for live in lives}
        for tool in ("save_observation", "search_memory", "ping"):
            before = {live.system.key: cpu_seconds(live.pid) for live in lives}
            for i in range(calls):
                order = lives if i % 2 == 0 else lives[::-1]
                for live in order:
                    if tool == "save_observation":
                        await timed(live, tool, live.system.save_args(saves[10 + i]))
                    elif tool == "search_memory":
                        q = qs[i % len(qs)]
                        await timed(live, tool, live.system.search_args(q), category=q.category)
                    else:
                        await timed(live, tool)
            for live in lives:
                spent = cpu_seconds(live.pid) - before[live.system.key]
                cpu_per_call[live.system.key][tool] = spent / calls
        mem = {live.system.key: memory_mb(live.pid) for live in lives}
    for live in lives:
        shutil.rmtree(live.state.parent, ignore_errors=True)
    return {
        "calls": calls, "load_before": load_before, "load_after": common.load(),
        "systems": {live.system.key: {
            "pid_source": "/proc walk: PPid == bench pid, cmdline has server script, "
                          "environ has KIOKU_MESH_STATE_DIR",
            "latency": {k: common.summary(v) for k, v in live.lat.items()},
            "search_by_category": {k: common.summary(v) for k, v in live.by_category.items()},
            "memory_mb": mem[live.system.key],
            "cpu_ms_per_call": {k: v * 1000 for k, v in cpu_per_call[live.system.key].items()},
        } for live in lives},
    }


def bench_mcp(sizes: list[int], start_runs: int, calls: int, with_ref: bool = True,
              ref_start_runs_large: int = 3, calls_large: int = 100,
              ref_max: int = REF_MAX, log: Any = print) -> dict[str, Any]:
    """Start, latency and memory at each size; at LARGE memories and up, the
    reference gets at most `ref_start_runs_large` timed starts (each rebuilds
    its index) and both systems `calls_large` calls per tool. The reference is
    measured only up to `ref_max` memories (see REF_MAX)."""
    syss = systems(with_ref, log)
    res: dict[str, Any] = {"systems": {s.key: {"label": s.label, "command": s.command}
                                       for s in syss},
                           "sizes": []}
    all_syss = syss
    for count in sizes:
        syss = [s for s in all_syss if s.key == "ours" or count <= ref_max]
        if len(syss) < len(all_syss):
            log(f"  {count:,} memories: reference skipped (above --ref-max {ref_max:,})")
        for s in syss:  # build/fill the stores before timing anything
            s.store(count, log)
        log(f"  {count:,} memories: start x{start_runs} ...")
        large = count >= LARGE
        ref_runs = min(start_runs, ref_start_runs_large) if large else start_runs
        start = anyio.run(bench_start, syss, count, start_runs, ref_runs, log)
        n_calls = min(calls, calls_large) if large else calls
        log(f"  {count:,} memories: {n_calls} calls of each tool in one session ...")
        lat = anyio.run(bench_latency, syss, count, n_calls, log)
        res["sizes"].append({"count": count, "start": start, "latency": lat})
        log("  " + " | ".join(
            f"{k}: start med {common.ms(statistics_median(start['systems'][k]['first_s']))} ms, "
            f"save p50 {common.ms(lat['systems'][k]['latency']['save_observation']['median'])} ms, "
            f"search p50 {common.ms(lat['systems'][k]['latency']['search_memory']['median'])} ms, "
            f"RSS {lat['systems'][k]['memory_mb']['VmRSS']:.0f} MB"
            for k in start["systems"]))
    return res


def statistics_median(values: list[float]) -> float:
    return common.summary(values)["median"]


# -------------------------------------------------------------------- report


def _ratio(ref: float | None, ours: float) -> str:
    if ref is None or ours <= 0:
        return "-"
    return f"{ref / ours:.1f}x"


def table(res: dict[str, Any]) -> str:
    has_ref = "ref" in res["systems"]
    head = "| memories | metric | target | ours |" + (" reference | ref / ours |" if has_ref else "")
    sep = "|---:|---|---:|---:|" + ("---:|---:|" if has_ref else "")
    rows = [head, sep]

    def row(count: int, metric: str, target: str, ours: float, ref: float | None,
            unit: str) -> None:
        def fmt(v: float) -> str:
            return common.ms(v) if unit == "ms" else f"{v:.0f}" if unit == "MB" else f"{v:.2f}"
        line = f"| {count:,} | {metric} | {target} | {fmt(ours)} |"
        if has_ref:
            line += f" {fmt(ref) if ref is not None else '-'} | {_ratio(ref, ours)} |"
        rows.append(line)

    for size in res["sizes"]:
        n = size["count"]
        st = size["start"]["systems"]
        lat = size["latency"]["systems"]
        ref_st = st.get("ref")
        ref_lat = lat.get("ref")

        def get_start(sys_: dict[str, Any] | None, key: str, stat: str) -> float | None:
            return None if sys_ is None else common.summary(sys_[key])[stat]

        for stat, label in (("median", "median"), ("max", "max")):
            row(n, f"start to first result, {label} (s)", f"<= {TARGET_START_S:.1f}",
                common.summary(st["ours"]["first_s"])[stat],
                get_start(ref_st, "first_s", stat), "s")
        row(n, "start to initialize answer, median (s)", "",
            common.summary(st["ours"]["init_s"])["median"], get_start(ref_st, "init_s", "median"),
            "s")
        row(n, "server CPU to first result, median (s)", "",
            common.summary(st["ours"]["cpu_s"])["median"], get_start(ref_st, "cpu_s", "median"),
            "s")
        row(n, "server VmRSS after start + 1 search, median (MB)", "",
            common.summary(st["ours"]["rss_mb"])["median"], get_start(ref_st, "rss_mb", "median"),
            "MB")
        for tool in ("save_observation", "search_memory", "ping"):
            for stat, target in (("median", TARGET_P50_MS), ("p99", TARGET_P99_MS)):
                o = lat["ours"]["latency"][tool][stat]
                r = ref_lat["latency"][tool][stat] if ref_lat else None
                label = "p50" if stat == "median" else stat
                row(n, f"{tool} {label} (ms)", "" if tool == "ping" else f"<= {target:.0f}",
                    o, r, "ms")
            row(n, f"{tool} server CPU per call (ms)", "",
                lat["ours"]["cpu_ms_per_call"][tool] / 1000,
                ref_lat["cpu_ms_per_call"][tool] / 1000 if ref_lat else None, "ms")
        for key in ("VmRSS", "VmHWM"):
            row(n, f"server {key} after the calls (MB)", f"<= {TARGET_RSS_MB:.0f}",
                lat["ours"]["memory_mb"][key],
                ref_lat["memory_mb"][key] if ref_lat else None, "MB")
    return "\n".join(rows)


def category_table(res: dict[str, Any]) -> str:
    """search_memory p50 / p99 (ms) by query category, ours vs reference."""
    has_ref = "ref" in res["systems"]
    rows = ["| memories | category | ours p50 | ours p99 |"
            + (" ref p50 | ref p99 | ref / ours (p50) |" if has_ref else ""),
            "|---:|---|---:|---:|" + ("---:|---:|---:|" if has_ref else "")]
    for size in res["sizes"]:
        lat = size["latency"]["systems"]
        for cat, o in lat["ours"]["search_by_category"].items():
            line = f"| {size['count']:,} | {cat} | {common.ms(o['median'])} | {common.ms(o['p99'])} |"
            if has_ref and "ref" not in lat:
                line += " - | - | - |"
            elif has_ref:
                r = lat["ref"]["search_by_category"][cat]
                line += (f" {common.ms(r['median'])} | {common.ms(r['p99'])} |"
                         f" {_ratio(r['median'], o['median'])} |")
            rows.append(line)
    return "\n".join(rows)


def section(res: dict[str, Any], command: str) -> str:
    """The "MCP server" markdown section (used by run_all.py --mcp)."""
    out = ["## MCP server", "", f"Command: `{command}`", ""]
    out += [f"- {key}: {s['label']}, `{s['command']}`" for key, s in res["systems"].items()]
    out += [f"- load average (1/5 min) per phase: {loads(res)}", "", table(res), "",
            "search_memory by query category (ms):", "", category_table(res), ""]
    return "\n".join(out)


def loads(res: dict[str, Any]) -> str:
    parts = []
    for size in res["sizes"]:
        parts.append(f"{size['count']:,}: start {size['start']['load_before']} -> "
                     f"{size['start']['load_after']}, calls {size['latency']['load_before']} -> "
                     f"{size['latency']['load_after']}")
    return "; ".join(parts)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="0,10000",
                        help="comma-separated store sizes (0 = empty store)")
    parser.add_argument("--start-runs", type=int, default=10, help="timed starts per size")
    parser.add_argument("--calls", type=int, default=300,
                        help="timed calls of each tool per size, in one session")
    parser.add_argument("--ref-start-runs-large", type=int, default=3,
                        help=f"reference's timed starts at {LARGE:,}+ memories (each of its "
                             "starts rebuilds its index: minutes at 100k)")
    parser.add_argument("--calls-large", type=int, default=100,
                        help=f"timed calls of each tool at {LARGE:,}+ memories")
    parser.add_argument("--ref-max", type=int, default=REF_MAX,
                        help="largest store size the reference is measured at (filling it "
                             "is quadratic: see REF_MAX)")
    parser.add_argument("--no-ref", action="store_true", help="skip the reference system")
    parser.add_argument("--out", type=Path, default=common.RESULTS)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    started = time.time()
    res = {"machine": common.machine_info(), "load_start": common.load(),
           "started": time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(started))}
    res.update(bench_mcp(sizes, args.start_runs, args.calls, not args.no_ref,
                         args.ref_start_runs_large, args.calls_large, args.ref_max, log))
    res["load_end"] = common.load()
    res["source_end"] = common.source_state()
    res["elapsed_s"] = time.time() - started
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(started))
    (args.out / f"mcp-{stamp}.json").write_text(json.dumps(res, indent=2))
    m = res["machine"]
    print(f"machine: {m['machine']}, {m['cpu']} ({m['cores']} cores), {m['os']}, "
          f"Python {m['python']}, SQLite {m['sqlite']}; {m['source']} "
          f"(at the end: {res['source_end']})")
    for key, s in res["systems"].items():
        print(f"{key}: {s['label']}: {s['command']}")
    print(f"load average (1/5 min): start {res['load_start']}, end {res['load_end']}; "
          f"{loads(res)}; took {res['elapsed_s'] / 60:.1f} min")
    print()
    print(table(res))
    print()
    print(category_table(res))
    log(f"written: {args.out}/mcp-{stamp}.json")
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main(sys.argv[1:]))

"""In-process save latency: kioku_mesh.api.Memory.save() of new memories.

Explains the one-shot `save` numbers and the MCP server's: runs on private
copies of a built store, a different corpus-like subject for every save (as
bench_cli.py), timed with perf_counter (wall) and thread_time (CPU). Three
variants, each on its own copy, interleaved save by save:

- `save()`: as a one-shot CLI save commits (FTS5 merges and WAL checkpoints
  inline, SQLite's defaults);
- `save(check_similar=False)`: without the near-duplicate check;
- `save(), upkeep between saves`: as the MCP server commits (ADR 0020): the
  store defers index merges and checkpoints, and the upkeep the server does
  between requests runs after each save, timed apart ("upkeep").

    .venv/bin/python bench/bench_save.py --sizes 10000,100000 --runs 300
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
import time
from typing import Any

import bench_cli
import common

from kioku_mesh.api import Memory
from kioku_mesh.api.upkeep import Upkeep
from kioku_mesh.store.upkeep import CHECKPOINT_WAL_BYTES, checkpoint, wal_bytes

VARIANTS = ("Memory.save()", "Memory.save(check_similar=False)",
            "Memory.save(), upkeep between saves")


def bench_save(count: int, runs: int, log: Any = print) -> dict[str, Any]:
    built = common.cached_store(count, log)
    subjects = iter(bench_cli.save_subjects((runs + 1) * len(VARIANTS), common.SEED + 7))
    walls: dict[str, list[float]] = {k: [] for k in VARIANTS}
    cpus: dict[str, list[float]] = {k: [] for k in VARIANTS}
    upkeep_cpu: list[float] = []
    states = [common.copy_state(built, f"save{count}-{i}") for i in range(len(VARIANTS))]
    load_before = common.load()
    try:
        with contextlib.ExitStack() as stack:
            mems = []
            for state in states:
                with common.use_env(state):  # a Memory reads its settings as it opens
                    mem = stack.enter_context(Memory(cwd=state))
                    _ = mem.store, mem.identity
                mems.append(mem)
            upkeep = Upkeep(mems[2].store)
            for rnd in range(runs + 1):
                for name, mem in zip(VARIANTS, mems, strict=True):
                    extra = {"check_similar": False} if "False" in name else {}
                    subject = next(subjects)
                    c0 = time.thread_time()
                    t0 = time.perf_counter()
                    mem.save(bench_cli.SAVE_CONTENT, subject, project="kioku-mesh",
                             tags="sqlite,concurrency", memory_type="decision", importance=3,
                             **extra)
                    t1 = time.perf_counter()
                    c1 = time.thread_time()
                    if rnd:
                        walls[name].append(t1 - t0)
                        cpus[name].append(c1 - c0)
                    if "upkeep" in name:
                        while upkeep.step():
                            pass
                        if wal_bytes(mem.store) >= CHECKPOINT_WAL_BYTES:
                            checkpoint(mem.store)
                        if rnd:
                            upkeep_cpu.append(time.thread_time() - c1)
    finally:
        for state in states:
            shutil.rmtree(state, ignore_errors=True)
    out = {
        "count": count,
        "runs": runs,
        "load": f"{load_before} -> {common.load()}",
        "variants": {
            name: {"wall": common.summary(walls[name]), "cpu": common.summary(cpus[name])}
            for name in VARIANTS
        },
        "upkeep_cpu": common.summary(upkeep_cpu),
    }
    parts = ", ".join(
        f"{n} p99 {common.ms(common.percentile(walls[n], 99))} ms" for n in VARIANTS
    )
    log(f"  save {count:,}: {parts} (load {out['load']})")
    return out


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| memories | call | runs | median wall (ms) | p99 wall (ms) | max wall (ms) | "
        "median CPU (ms) | p99 CPU (ms) | max CPU (ms) |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        for name, v in r["variants"].items():
            w, c = v["wall"], v["cpu"]
            lines.append(
                f"| {r['count']:,} | `{name}` | {w['n']} | {common.ms(w['median'])} | "
                f"{common.ms(w['p99'])} | {common.ms(w['max'])} | {common.ms(c['median'])} | "
                f"{common.ms(c['p99'])} | {common.ms(c['max'])} |"
            )
        u = r["upkeep_cpu"]
        lines.append(
            f"| {r['count']:,} | upkeep after each save (not in the save's time) | {u['n']} | | | | "
            f"{common.ms(u['median'])} | {common.ms(u['p99'])} | {common.ms(u['max'])} |"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args(argv)
    results = [bench_save(int(n), args.runs) for n in args.sizes.split(",")]
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

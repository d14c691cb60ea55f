"""In-process save latency: kioku_mesh.api.Memory.save() of new memories.

Explains the one-shot `save` numbers: runs on a private copy of a built
store, one Memory, a different corpus-like subject for every save (as
bench_cli.py), timed with perf_counter (wall) and thread_time (CPU). When
the API has the `check_similar` switch (the near-duplicate check, which
searches the store for the subject), saves without it are timed too,
interleaved with the others.

    .venv/bin/python bench/bench_save.py --sizes 10000,100000 --runs 30
"""

from __future__ import annotations

import argparse
import inspect
import shutil
import sys
import time
from typing import Any

import bench_cli
import common

from kioku_mesh.api import Memory


def bench_save(count: int, runs: int, log: Any = print) -> dict[str, Any]:
    state = common.copy_state(common.cached_store(count, log), f"save{count}")
    has_switch = "check_similar" in inspect.signature(Memory.save).parameters
    variants: dict[str, dict[str, Any]] = {"Memory.save()": {}}
    if has_switch:
        variants["Memory.save(check_similar=False)"] = {"check_similar": False}
    subjects = iter(bench_cli.save_subjects((runs + 1) * len(variants), common.SEED + 7))
    walls: dict[str, list[float]] = {k: [] for k in variants}
    cpus: dict[str, list[float]] = {k: [] for k in variants}
    load_before = common.load()
    try:
        with common.use_env(state), Memory(cwd=state) as mem:
            for rnd in range(runs + 1):
                for name, extra in variants.items():
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
    finally:
        shutil.rmtree(state, ignore_errors=True)
    out = {
        "count": count,
        "runs": runs,
        "load": f"{load_before} -> {common.load()}",
        "variants": {
            name: {"wall": common.summary(walls[name]), "cpu": common.summary(cpus[name])}
            for name in variants
        },
    }
    parts = ", ".join(
        f"{n} {common.ms(v['wall']['median'])} ms" for n, v in out["variants"].items()
    )
    log(f"  save {count:,}: {parts} (median wall; load {out['load']})")
    return out


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| memories | call | runs | median wall (ms) | p90 wall (ms) | max wall (ms) | "
        "median CPU (ms) | p90 CPU (ms) |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        for name, v in r["variants"].items():
            w, c = v["wall"], v["cpu"]
            lines.append(
                f"| {r['count']:,} | `{name}` | {w['n']} | {common.ms(w['median'])} | "
                f"{common.ms(w['p90'])} | {common.ms(w['max'])} | {common.ms(c['median'])} | "
                f"{common.ms(c['p90'])} |"
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

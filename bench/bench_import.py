"""Import throughput: `kioku-mesh import FILE` of a generated JSONL corpus.

Each run imports into a fresh, empty state dir and is timed from process
start to exit (so it includes interpreter start-up, parsing, validation,
indexing and the final commit). Memories/s = memories in the file / wall time.

    .venv/bin/python bench/bench_import.py --sizes 10000,100000 --runs 3
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
from typing import Any

import common


def bench_import(count: int, runs: int, log: Any = print) -> dict[str, Any]:
    jsonl = common.corpus_file(count)
    walls: list[float] = []
    cpus: list[float] = []
    size = 0
    breakdown: dict[str, int] = {}
    for i in range(runs):
        state = common.temp_dir(f"import{count}")
        load = common.load()
        result = common.import_into(state, jsonl)
        walls.append(result.wall_s)
        cpus.append(result.cpu_s)
        log(f"  import {count:,} run {i + 1}/{runs}: {result.wall_s:.2f} s wall, "
            f"{result.cpu_s:.2f} s cpu, {count / result.wall_s:,.0f}/s (load {load})")
        if i == 0:
            size = common.db_size(state)
            breakdown = common.size_breakdown(state / "kioku.db")
            common.adopt_store(state, count)  # the other benchmarks reuse it
        else:
            shutil.rmtree(state, ignore_errors=True)
    wall = statistics.median(walls)
    return {
        "count": count,
        "file": str(jsonl),
        "file_bytes": jsonl.stat().st_size,
        "command": f"kioku-mesh import {jsonl.name}",
        "wall": common.summary(walls),
        "cpu": common.summary(cpus),
        "rate_median": count / wall,
        "rate_best": count / min(walls),
        "rate_cpu": count / statistics.median(cpus),
        "db_bytes": size,
        "db_breakdown": breakdown,
    }


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| memories | runs | wall median (s) | wall min (s) | memories/s (median) | "
        "memories/s (best) | memories/s (CPU time) | target |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        ok = "met" if r["rate_median"] >= 10_000 else "**missed**"
        lines.append(
            f"| {r['count']:,} | {r['wall']['n']} | {r['wall']['median']:.2f} | "
            f"{r['wall']['min']:.2f} | {r['rate_median']:,.0f} | {r['rate_best']:,.0f} | "
            f"{r['rate_cpu']:,.0f} | >= 10,000/s: {ok} |"
        )
    return "\n".join(lines)


def size_table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| memories | JSONL file | db on disk | per memory | rows + b-tree indexes | "
        "word index | trigram index | other (change feed, digest, ...) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        b = r["db_breakdown"]
        lines.append(
            f"| {r['count']:,} | {common.human_bytes(r['file_bytes'])} | "
            f"{common.human_bytes(r['db_bytes'])} | {common.human_bytes(r['db_bytes'] / r['count'])} | "
            f"{common.human_bytes(b.get('rows + b-tree indexes', 0))} | "
            f"{common.human_bytes(b.get('word index', 0))} | "
            f"{common.human_bytes(b.get('trigram index', 0))} | "
            f"{common.human_bytes(b.get('other', 0))} |"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    results = [bench_import(int(n), args.runs) for n in args.sizes.split(",")]
    print(table(results))
    print()
    print(size_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

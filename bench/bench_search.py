"""In-process search latency: kioku_mesh.api.Memory.search(SearchQuery(text=...)).

One Memory is opened on a built store and the query set of queries.py is run
for a number of rounds (shuffled each round, one warm-up round not counted).
Each call is timed with perf_counter (wall) and thread_time (CPU of this
thread: what the query cost even when the machine was busy with others).
Default limit (20), default reader scope, warm OS page cache.

    .venv/bin/python bench/bench_search.py --sizes 10000,100000 --rounds 30
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from typing import Any

import common
import queries

from kioku_mesh.api import Memory, SearchQuery

TARGETS = {10_000: (1.0, 3.0), 100_000: (None, 10.0)}  # (p50 ms, p99 ms)


def bench_search(count: int, rounds: int, log: Any = print) -> dict[str, Any]:
    state = common.cached_store(count, log)
    qset = queries.query_set(common.SEED)
    rng = random.Random(7)
    walls: dict[int, list[float]] = {i: [] for i in range(len(qset))}
    cpus: dict[int, list[float]] = {i: [] for i in range(len(qset))}
    info: dict[int, tuple[int, str]] = {}
    load_before = common.load()
    with common.use_env(state), Memory(cwd=state) as mem:
        for rnd in range(rounds + 1):
            order = list(range(len(qset)))
            rng.shuffle(order)
            for i in order:
                q = qset[i]
                sq = SearchQuery(text=q.text, project=q.project)
                c0 = time.thread_time()
                t0 = time.perf_counter()
                result = mem.search(sq)
                t1 = time.perf_counter()
                c1 = time.thread_time()
                if rnd == 0:
                    info[i] = (result.total, result.match)
                    continue
                walls[i].append(t1 - t0)
                cpus[i].append(c1 - c0)
    all_wall = [v for vs in walls.values() for v in vs]
    all_cpu = [v for vs in cpus.values() for v in vs]
    per_query = [
        {
            "category": q.category,
            "query": q.label(),
            "total": info[i][0],
            "match": info[i][1],
            "wall": common.summary(walls[i]),
            "cpu": common.summary(cpus[i]),
        }
        for i, q in enumerate(qset)
    ]
    categories: dict[str, dict[str, Any]] = {}
    for cat in dict.fromkeys(q.category for q in qset):
        idx = [i for i, q in enumerate(qset) if q.category == cat]
        categories[cat] = {
            "queries": len(idx),
            "wall": common.summary([v for i in idx for v in walls[i]]),
            "cpu": common.summary([v for i in idx for v in cpus[i]]),
        }
    result = {
        "count": count,
        "rounds": rounds,
        "queries": len(qset),
        "wall": common.summary(all_wall),
        "cpu": common.summary(all_cpu),
        "categories": categories,
        "per_query": per_query,
        "load": f"{load_before} -> {common.load()}",
    }
    log(f"  search {count:,}: p50 {common.ms(result['wall']['median'])} ms, "
        f"p99 {common.ms(result['wall']['p99'])} ms wall; p50 {common.ms(result['cpu']['median'])} ms, "
        f"p99 {common.ms(result['cpu']['p99'])} ms cpu (load {result['load']})")
    return result


def _verdict(count: int, p50: float, p99: float) -> str:
    t50, t99 = TARGETS.get(count, (None, None))
    parts = []
    if t50 is not None:
        parts.append(f"p50 <= {t50:g}: {'met' if p50 * 1000 <= t50 else '**missed**'}")
    if t99 is not None:
        parts.append(f"p99 <= {t99:g}: {'met' if p99 * 1000 <= t99 else '**missed**'}")
    return "; ".join(parts) or "-"


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| memories | samples | p50 wall (ms) | p99 wall (ms) | max wall (ms) | p50 CPU (ms) | "
        "p99 CPU (ms) | target |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        w, c = r["wall"], r["cpu"]
        lines.append(
            f"| {r['count']:,} | {w['n']:,} | {common.ms(w['median'])} | {common.ms(w['p99'])} | "
            f"{common.ms(w['max'])} | {common.ms(c['median'])} | {common.ms(c['p99'])} | "
            f"{_verdict(r['count'], w['median'], w['p99'])} |"
        )
    return "\n".join(lines)


def category_table(results: list[dict[str, Any]]) -> str:
    sizes = [r["count"] for r in results]
    head = "| category | queries | " + " | ".join(
        f"{n:,}: p50 / p99 wall (ms)" for n in sizes
    ) + " |"
    lines = [head, "|---|---:|" + "---:|" * len(sizes)]
    for cat, first in results[0]["categories"].items():
        cells = [
            f"{common.ms(r['categories'][cat]['wall']['median'])} / "
            f"{common.ms(r['categories'][cat]['wall']['p99'])}"
            for r in results
        ]
        lines.append(f"| {cat} | {first['queries']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def query_table(results: list[dict[str, Any]]) -> str:
    sizes = [r["count"] for r in results]
    head = "| category | query | " + " | ".join(
        f"{n:,}: matches (mode) | {n:,}: p50 / p99 (ms)" for n in sizes
    ) + " |"
    lines = [head, "|---|---|" + "---:|---:|" * len(sizes)]
    for i, q in enumerate(results[0]["per_query"]):
        cells = []
        for r in results:
            pq = r["per_query"][i]
            cells.append(f"{pq['total']:,} ({pq['match']})")
            cells.append(f"{common.ms(pq['wall']['median'])} / {common.ms(pq['wall']['p99'])}")
        query = q["query"].replace("|", "\\|")
        lines.append(f"| {q['category']} | `{query}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args(argv)
    results = [bench_search(int(n), args.rounds) for n in args.sizes.split(",")]
    print(table(results))
    print()
    print(category_table(results))
    print()
    print(query_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

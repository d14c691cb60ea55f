"""Store open time on an existing store, at several sizes: it must not grow with size.

In-process measurements per size, each repeated (open, use, close):

- `Store.open(path)`: connect, pragmas, the schema-version check;
- `Memory()` + first query, with a query that matches nothing (`qzxvjk`):
  settings, lazy store open, SQLite reading the schema and FTS5 its index
  structure on the fresh connection: the cost of opening, nearly free of
  query work;
- `Memory()` + first query with a rare word, and the same query again on an
  already open Memory: their difference is what a fresh connection costs
  that query (SQLite's page cache is per connection, so the first query
  reads its pages from the OS cache again; that part grows with the pages
  the query touches, not with the store).

    .venv/bin/python bench/bench_open.py --sizes 10,10000,100000 --reps 50
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import common
import queries

from kioku_mesh.api import Memory, SearchQuery
from kioku_mesh.store import Store

NO_MATCH = "qzxvjk"


def bench_open(count: int, reps: int, log: Any = print) -> dict[str, Any]:
    state = common.cached_store(count, log)
    db_path = state / "kioku.db"
    text = queries.query_set(common.SEED)[5].text  # a rare word: little query work
    opens: list[float] = []
    nomatch: list[float] = []
    firsts: list[float] = []
    warms: list[float] = []
    load_before = common.load()
    with common.use_env(state):
        Store.open(db_path).close()  # warm the OS page cache
        for _ in range(reps):
            t0 = time.perf_counter()
            store = Store.open(db_path)
            opens.append(time.perf_counter() - t0)
            store.close()
        for query, into in ((NO_MATCH, nomatch), (text, firsts)):
            for _ in range(reps):
                t0 = time.perf_counter()
                mem = Memory(cwd=state)
                mem.search(SearchQuery(text=query))
                into.append(time.perf_counter() - t0)
                mem.close()
        with Memory(cwd=state) as mem:
            mem.search(SearchQuery(text=text))
            for _ in range(reps):
                t0 = time.perf_counter()
                mem.search(SearchQuery(text=text))
                warms.append(time.perf_counter() - t0)
    out = {
        "count": count,
        "reps": reps,
        "query": text,
        "db_bytes": common.db_size(state),
        "store_open": common.summary(opens),
        "memory_first_query_no_match": common.summary(nomatch),
        "memory_first_query": common.summary(firsts),
        "warm_query": common.summary(warms),
        "load": f"{load_before} -> {common.load()}",
    }
    log(f"  open {count:,}: Store.open {common.ms(out['store_open']['median'])} ms, "
        f"Memory()+no-match query {common.ms(out['memory_first_query_no_match']['median'])} ms, "
        f"Memory()+first query {common.ms(out['memory_first_query']['median'])} ms, "
        f"warm query {common.ms(out['warm_query']['median'])} ms (median; load {out['load']})")
    return out


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| memories | db size | Store.open median / p90 (ms) | Memory() + first query, "
        "no match: median / p90 (ms) | Memory() + first query, rare word: median / p90 (ms) "
        "| same rare-word query, already open: median (ms) |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        so, nm = r["store_open"], r["memory_first_query_no_match"]
        fq, wq = r["memory_first_query"], r["warm_query"]
        lines.append(
            f"| {r['count']:,} | {common.human_bytes(r['db_bytes'])} | "
            f"{common.ms(so['median'])} / {common.ms(so['p90'])} | "
            f"{common.ms(nm['median'])} / {common.ms(nm['p90'])} | "
            f"{common.ms(fq['median'])} / {common.ms(fq['p90'])} | {common.ms(wq['median'])} |"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,10000,100000")
    parser.add_argument("--reps", type=int, default=50)
    args = parser.parse_args(argv)
    results = [bench_open(int(n), args.reps) for n in args.sizes.split(",")]
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

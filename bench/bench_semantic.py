"""Search by meaning (ADR 0025): quality by mode, cross-language recall, and
cost at 10k/100k memories.

    .venv/bin/python bench/bench_semantic.py relevance      # keyword/semantic/hybrid, both fields
    .venv/bin/python bench/bench_semantic.py ja-en          # tests/data/semantic/ja_en_pairs.jsonl
    .venv/bin/python bench/bench_semantic.py latency --sizes 10000,100000 --rounds 5
    .venv/bin/python bench/bench_semantic.py install        # bytes added to an install

Latency: the query set of queries.py on the cached synthetic stores (common.py),
one Memory per store, each mode in turn, one warm-up round not counted; wall
(perf_counter) and CPU of this thread (thread_time).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import common
import queries
import relevance

from kioku_mesh.api import Memory, SearchQuery

ROOT = Path(__file__).resolve().parents[1]
PAIRS = ROOT / "tests" / "data" / "semantic" / "ja_en_pairs.jsonl"
MODES = ("keyword", "semantic", "hybrid")


# ------------------------------------------------------------------ quality


def relevance_by_mode(fields: tuple[str, ...] = ("query", "query_short")) -> list[dict]:
    data = relevance.data_dir()
    ev = relevance.evaluator(data)
    out = []
    with tempfile.TemporaryDirectory(prefix="km-sem-rel-") as tmp:
        mem = relevance.open_memory(Path(tmp), data)
        try:
            for field in fields:
                for mode in MODES:
                    def run(text: str, k: int, mode: str = mode) -> list[dict]:
                        result = mem.search(SearchQuery(text=text, limit=k, mode=mode))
                        return [{"tags": h.observation.tags} for h in result.hits]
                    out.append(ev.evaluate(run, data, name=mode, query_field=field))
        finally:
            mem.close()
    return out


def relevance_table(rows: list[dict]) -> str:
    lines = ["| mode | query field | MRR@10 | R@5 | attrs MRR@10 | poetry MRR@10 | attrs R@5 | "
             "poetry R@5 |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        by = r["by_project"]
        lines.append(f"| {r['system']} | {r['query_field']} | {r['mrr@10']:.4f} | "
                     f"{r['recall@5']:.4f} | {by['attrs']['mrr@10']:.4f} | "
                     f"{by['poetry']['mrr@10']:.4f} | {by['attrs']['recall@5']:.4f} | "
                     f"{by['poetry']['recall@5']:.4f} |")
    return "\n".join(lines)


def ja_en() -> list[dict[str, Any]]:
    """Recall@5 of the other language's twin, both directions, per mode: the
    50+ English memories stored, each Japanese sentence searched (and the
    reverse)."""
    pairs = [json.loads(line) for line in PAIRS.read_text(encoding="utf-8").splitlines() if line]
    out = []
    for stored, asked in (("en", "ja"), ("ja", "en")):
        with tempfile.TemporaryDirectory(prefix="km-sem-jaen-") as tmp:
            with common.use_env(Path(tmp)), Memory(cwd=Path(tmp)) as mem:
                ids = [mem.save(p[stored], p[stored][:60], check_similar=False)
                       .observation.observation_id for p in pairs]
                for mode in MODES:
                    found = 0
                    for p, oid in zip(pairs, ids, strict=True):
                        hits = mem.search(SearchQuery(text=p[asked], limit=5, mode=mode)).hits
                        found += oid in [h.observation.observation_id for h in hits]
                    out.append({"stored": stored, "query": asked, "mode": mode,
                                "pairs": len(pairs), "recall@5": found / len(pairs)})
    return out


# ------------------------------------------------------------------ cost


def latency(count: int, rounds: int, log: Any = print) -> dict[str, Any]:
    state = common.cached_store(count, log)
    qset = queries.query_set(common.SEED)
    rng = random.Random(7)
    res: dict[str, Any] = {"count": count, "load_before": common.load(), "modes": {}}
    with common.use_env(state), Memory(cwd=state) as mem:
        t0 = time.perf_counter()
        mem.sync_vectors()
        res["first_sync_s"] = time.perf_counter() - t0
        for mode in MODES:
            walls: list[float] = []
            cpus: list[float] = []
            for rnd in range(rounds + 1):
                order = list(range(len(qset)))
                rng.shuffle(order)
                for i in order:
                    q = qset[i]
                    sq = SearchQuery(text=q.text, project=q.project, mode=mode)
                    c0, w0 = time.thread_time(), time.perf_counter()
                    mem.search(sq)
                    w1, c1 = time.perf_counter(), time.thread_time()
                    if rnd:
                        walls.append(w1 - w0)
                        cpus.append(c1 - c0)
            res["modes"][mode] = {"wall": common.summary(walls), "cpu": common.summary(cpus),
                                  "p99_ms": common.percentile(walls, 99) * 1000}
        db = mem.store.db
        res["vector_bytes"] = db.execute(
            "SELECT sum(pgsize) FROM dbstat WHERE name = 'obs_vectors'").fetchone()[0]
    res["db_bytes"] = common.db_size(state)
    res["load_after"] = common.load()
    return res


def install_bytes() -> dict[str, int]:
    import numpy

    from kioku_mesh.store.search.embedder import MODEL_DIR

    def du(path: Path) -> int:
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    np_dir = Path(numpy.__file__).resolve().parent
    libs = np_dir.parent / "numpy.libs"
    return {"numpy": du(np_dir) + (du(libs) if libs.exists() else 0), "model": du(MODEL_DIR)}


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=("relevance", "ja-en", "latency", "install"))
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--fields", default="query,query_short")
    args = ap.parse_args(argv)
    if args.what == "relevance":
        print(relevance_table(relevance_by_mode(tuple(args.fields.split(",")))))
    elif args.what == "ja-en":
        print("| stored | query | mode | pairs | recall@5 |\n|---|---|---|---:|---:|")
        for r in ja_en():
            print(f"| {r['stored']} | {r['query']} | {r['mode']} | {r['pairs']} | "
                  f"{r['recall@5']:.2f} |")
    elif args.what == "latency":
        print(common.machine_info())
        for count in (int(s) for s in args.sizes.split(",")):
            r = latency(count, args.rounds, log=lambda m: print(m, file=sys.stderr))
            print(f"## {count:,} memories (load {r['load_before']} -> {r['load_after']}); "
                  f"first vector load {r['first_sync_s'] * 1000:.0f} ms; "
                  f"vectors {r['vector_bytes'] / count:.0f} B/memory; "
                  f"store {r['db_bytes'] / count:.0f} B/memory")
            print("| mode | p50 ms | p99 ms | CPU p50 ms |\n|---|---:|---:|---:|")
            for mode, m in r["modes"].items():
                print(f"| {mode} | {m['wall']['median'] * 1000:.1f} | {m['p99_ms']:.1f} | "
                      f"{m['cpu']['median'] * 1000:.1f} |")
    else:
        sizes = install_bytes()
        print(json.dumps({k: f"{v / 1e6:.1f} MB" for k, v in sizes.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

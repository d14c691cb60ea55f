#!/usr/bin/env python3
"""Score a retrieval system on the commit-message / changelog relevance set.

    python3 eval_relevance.py [options] MODE [mode options]

Modes
  bm25-floor   plain BM25 on the same data: in-memory SQLite FTS5 table,
               tokenize='porter unicode61', query terms OR'ed, ORDER BY bm25()
  cli          any system behind a shell command; --search-cmd is a template:
               {query} -> the shell-quoted query, {k} -> 10. Its stdout must be JSON:
               a list of hits, or an object holding one (found by --results-path,
               else the first list under results/hits/items/memories/observations/data)
  python       any Python callable: --callable MODULE:FUNC, called as FUNC(query, k)
               and returning a list of hits; --setup MODULE:FUNC (optional) is called
               once first with the list of `load` records
  load         print the corpus as JSONL import records, one memory a line:
               {"subject", "summary", "content", "project", "tags": ["doc:<doc_id>"],
                "memory_type": "note", "created_at": "YYYY-MM-DDTHH:MM:SS.000000Z"}

A hit is mapped to a doc_id through its first tag that starts with "doc:" (a hit is a
dict with a "tags" list or a comma-separated string, or an object with a .tags
attribute; a plain string hit is taken as the doc_id itself, "doc:" prefix optional).
Hits that map to nothing count as wrong answers; repeated doc_ids count once.

Metrics (binary relevance; a query may have more than one relevant doc):
  Recall@k  = |relevant in top k| / |relevant|             k = 1, 5, 10
  MRR@10    = 1 / rank of the first relevant doc in the top 10, else 0
  nDCG@10   = DCG@10 / ideal DCG@10, gain 1, discount log2(rank + 1)
  zero-result rate = share of queries for which the system returned no hit at all
  latency   = wall time of each search call (3 untimed warm-up queries first;
              loading / indexing is not included)

Only the Python standard library is needed (the bm25-floor mode needs an sqlite3 built
with FTS5, which CPython's usually is).

Use it from Python:

    from eval_relevance import evaluate
    summary = evaluate(lambda query, k: my_search(query, k))
"""
from __future__ import annotations

import argparse
import importlib
import json
import math
import re
import shlex
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
K = 10
TAG_PREFIX = "doc:"
LIST_KEYS = ("results", "hits", "items", "memories", "observations", "data")


# --------------------------------------------------------------------------- data

def load_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def load_data(data_dir: str | Path = HERE) -> tuple[list[dict], list[dict]]:
    data = Path(data_dir)
    return load_jsonl(data / "corpus.jsonl"), load_jsonl(data / "queries.jsonl")


def import_records(corpus: Iterable[dict], tag_prefix: str = TAG_PREFIX) -> Iterable[dict]:
    """One import record per corpus doc (the `load` mode's output)."""
    for d in corpus:
        ts = d["created_at"]                          # "2026-05-19T15:36:14Z"
        if ts.endswith("Z") and "." not in ts:
            ts = ts[:-1] + ".000000Z"                 # "2026-05-19T15:36:14.000000Z"
        yield {"subject": d["subject"], "summary": d["summary"], "content": d["content"],
               "project": d["project"], "tags": list(d.get("tags", [])) + [tag_prefix + d["doc_id"]],
               "memory_type": "note", "created_at": ts}


# --------------------------------------------------------------------------- hits -> doc_ids

def hit_to_doc(hit: Any, tag_prefix: str = TAG_PREFIX, tags_field: str = "tags") -> str | None:
    if isinstance(hit, str):
        return hit[len(tag_prefix):] if hit.startswith(tag_prefix) else hit
    tags = hit.get(tags_field) if isinstance(hit, dict) else getattr(hit, tags_field, None)
    if isinstance(tags, str):
        tags = [t.strip() for t in tags.split(",")]
    for t in tags or []:
        if isinstance(t, str) and t.startswith(tag_prefix):
            return t[len(tag_prefix):]
    return None


def dig(obj: Any, path: str) -> Any:
    for part in filter(None, path.split(".")):
        obj = obj[int(part)] if isinstance(obj, list) else obj[part]
    return obj


def hit_list(data: Any, results_path: str = "") -> list:
    if results_path:
        data = dig(data, results_path)
    elif isinstance(data, dict):
        for key in LIST_KEYS:
            if isinstance(data.get(key), list):
                return data[key]
        return []
    return data if isinstance(data, list) else []


# --------------------------------------------------------------------------- metrics

def score_query(ranked: list[str | None], relevant: list[str]) -> dict:
    seen, top = set(), []
    for d in ranked:                              # keep order; unmapped hits still take a rank
        if d is None or d not in seen:
            if d is not None:
                seen.add(d)
            top.append(d)
    top = top[:K]
    rel = set(relevant)
    out = {f"recall@{k}": len(rel & set(top[:k])) / len(rel) for k in (1, 5, 10)}
    out["mrr@10"] = next((1.0 / i for i, d in enumerate(top, 1) if d in rel), 0.0)
    dcg = sum(1.0 / math.log2(i + 1) for i, d in enumerate(top, 1) if d in rel)
    idcg = sum(1.0 / math.log2(i + 1) for i in range(1, min(len(rel), K) + 1))
    out["ndcg@10"] = dcg / idcg if idcg else 0.0
    return out


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    if not xs:
        return float("nan")
    i = (len(xs) - 1) * p
    lo, hi = math.floor(i), math.ceil(i)
    return xs[lo] + (xs[hi] - xs[lo]) * (i - lo)


METRICS = ("mrr@10", "recall@1", "recall@5", "recall@10", "ndcg@10")


def evaluate(search: Callable[[str, int], list], data_dir: str | Path = HERE, *,
             name: str = "system", query_field: str = "query", max_queries: int = 0,
             tag_prefix: str = TAG_PREFIX, tags_field: str = "tags", warmup: int = 3,
             per_query_path: str | None = None, queries: list[dict] | None = None) -> dict:
    """Run search(query, k) for every query and return the summary dict."""
    if queries is None:
        queries = load_data(data_dir)[1]
    if max_queries:
        queries = queries[:max_queries]
    for q in queries[:warmup]:                    # warm caches; not timed, not scored
        search(q[query_field], K)
    if hasattr(search, "errors"):
        search.errors = 0                         # count failures of scored calls only
    rows, lat = [], []
    for q in queries:
        t0 = time.perf_counter()
        hits = list(search(q[query_field], K) or [])
        lat.append((time.perf_counter() - t0) * 1000.0)
        ranked = [hit_to_doc(h, tag_prefix, tags_field) for h in hits]
        s = score_query(ranked, q["relevant"])
        s.update(qid=q["qid"], n_hits=len(hits), unmapped=sum(d is None for d in ranked[:K]),
                 top=ranked[:K], latency_ms=round(lat[-1], 3))
        rows.append(s)
    n = len(rows)
    summary: dict = {"system": name, "query_field": query_field, "queries": n}
    for m in METRICS:
        summary[m] = round(statistics.mean(r[m] for r in rows), 4)
    summary["zero_result_rate"] = round(sum(r["n_hits"] == 0 for r in rows) / n, 4)
    summary["unmapped_hits_in_top10"] = sum(r["unmapped"] for r in rows)
    summary["latency_ms_median"] = round(statistics.median(lat), 3)
    summary["latency_ms_p95"] = round(pct(lat, 0.95), 3)
    by_proj: dict[str, list[dict]] = {}
    for r in rows:
        by_proj.setdefault(r["qid"].split("-L")[0], []).append(r)
    if len(by_proj) > 1:
        summary["by_project"] = {
            p: {"queries": len(rs), **{m: round(statistics.mean(r[m] for r in rs), 4)
                                       for m in ("mrr@10", "recall@5", "ndcg@10")}}
            for p, rs in sorted(by_proj.items())}
    if per_query_path:
        with open(per_query_path, "w", encoding="utf-8") as fh:
            for r in rows:
                fh.write(json.dumps(r) + "\n")
    return summary


# --------------------------------------------------------------------------- bm25 floor

def fts5_or_query(text: str) -> str:
    """Whitespace-split terms, each an FTS5 string ('"' doubled), duplicates and terms
    without a letter or digit dropped, joined with OR."""
    terms, seen = [], set()
    for t in text.split():
        if not re.search(r"\w", t):
            continue
        if t.lower() not in seen:
            seen.add(t.lower())
            terms.append('"' + t.replace('"', '""') + '"')
    return " OR ".join(terms)


class Bm25Floor:
    """In-memory FTS5 table over subject, summary, content, tags and project of each corpus
    doc (its "tags" are empty; the doc: tag is not indexed), default column weights. The
    subject is counted twice, as content begins with it."""

    def __init__(self, corpus: list[dict]):
        self.db = sqlite3.connect(":memory:")
        self.db.execute("CREATE VIRTUAL TABLE docs USING fts5(doc_id UNINDEXED, subject, "
                        "summary, content, tags, project, tokenize='porter unicode61')")
        self.db.executemany("INSERT INTO docs VALUES (?,?,?,?,?,?)", [
            (d["doc_id"], d["subject"], d["summary"], d["content"],
             " ".join(d.get("tags", [])), d["project"]) for d in corpus])
        self.db.commit()

    def search(self, query: str, k: int = K) -> list[str]:
        m = fts5_or_query(query)
        if not m:
            return []
        return [r[0] for r in self.db.execute(
            "SELECT doc_id FROM docs WHERE docs MATCH ? ORDER BY bm25(docs) LIMIT ?", (m, k))]


# --------------------------------------------------------------------------- cli / python

class CliSearch:
    def __init__(self, template: str, results_path: str = "", timeout: float = 60.0):
        self.template, self.results_path, self.timeout = template, results_path, timeout
        self.errors = 0

    def __call__(self, query: str, k: int = K) -> list:
        cmd = self.template.replace("{query}", shlex.quote(query)).replace("{k}", str(k))
        try:
            p = subprocess.run(cmd, shell=True, capture_output=True, text=True,
                               timeout=self.timeout)
        except subprocess.TimeoutExpired:
            self.errors += 1
            return []
        try:
            return hit_list(json.loads(p.stdout) if p.stdout.strip() else [], self.results_path)
        except (json.JSONDecodeError, KeyError, IndexError, TypeError, ValueError):
            self.errors += 1
            if self.errors <= 3:
                print(f"[cli] unparsable output (rc={p.returncode}): {p.stdout[:200]!r} "
                      f"{p.stderr[:200]!r}", file=sys.stderr)
            return []


def resolve(spec: str) -> Callable:
    mod, _, attr = spec.partition(":")
    if not attr:
        raise SystemExit(f"{spec!r}: expected MODULE:FUNC")
    obj: Any = importlib.import_module(mod)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


# --------------------------------------------------------------------------- main

def report(r: dict) -> str:
    lines = [f"{r['system']}  ({r['queries']} queries, field {r['query_field']})",
             "  MRR@10 {mrr@10:.4f}   R@1 {recall@1:.4f}   R@5 {recall@5:.4f}   "
             "R@10 {recall@10:.4f}   nDCG@10 {ndcg@10:.4f}".format(**r),
             f"  zero-result rate {r['zero_result_rate']:.4f}   unmapped hits in top 10 "
             f"{r['unmapped_hits_in_top10']}   latency median {r['latency_ms_median']:.1f} ms"
             f"   p95 {r['latency_ms_p95']:.1f} ms"]
    for p, v in r.get("by_project", {}).items():
        lines.append(f"  {p:<12} {v['queries']:>4} q   MRR@10 {v['mrr@10']:.4f}   "
                     f"R@5 {v['recall@5']:.4f}   nDCG@10 {v['ndcg@10']:.4f}")
    for key in ("index_build_s", "setup_s", "errors"):
        if key in r:
            lines.append(f"  {key} {r[key]}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(HERE),
                    help="folder with corpus.jsonl and queries.jsonl (default: this file's)")
    ap.add_argument("--query-field", default="query", choices=["query", "query_short"])
    ap.add_argument("--max-queries", type=int, default=0, help="only the first N queries")
    ap.add_argument("--tag-prefix", default=TAG_PREFIX)
    ap.add_argument("--tags-field", default="tags", help="hit field that holds the tags")
    ap.add_argument("--per-query", help="write per-query rows (JSONL) here")
    ap.add_argument("--json", action="store_true", help="print the summary as one JSON line")
    ap.add_argument("--json-out", help="append the summary (one JSON line) to this file")
    sub = ap.add_subparsers(dest="mode", required=True)
    sub.add_parser("bm25-floor", help="SQLite FTS5 BM25 on the same data")
    pc = sub.add_parser("cli", help="a system behind a shell command")
    pc.add_argument("--search-cmd", required=True,
                    help="shell template: {query} -> shell-quoted query, {k} -> 10")
    pc.add_argument("--results-path", default="", help="dot path to the hit list in the JSON")
    pc.add_argument("--timeout", type=float, default=60.0)
    pc.add_argument("--name", help="label for the report (default: the template)")
    pp = sub.add_parser("python", help="a Python callable FUNC(query, k) -> hits")
    pp.add_argument("--callable", required=True, metavar="MODULE:FUNC")
    pp.add_argument("--setup", metavar="MODULE:FUNC",
                    help="called once with the list of load records before searching")
    pp.add_argument("--path", action="append", default=[], help="prepend to sys.path")
    pp.add_argument("--name")
    sub.add_parser("load", help="print the corpus as JSONL import records")
    a = ap.parse_args(argv)

    corpus, queries = load_data(a.data)
    if a.mode == "load":
        try:
            for rec in import_records(corpus, a.tag_prefix):
                sys.stdout.write(json.dumps(rec, ensure_ascii=False) + "\n")
        except BrokenPipeError:
            pass
        return

    extra: dict = {}
    if a.mode == "bm25-floor":
        t0 = time.perf_counter()
        floor = Bm25Floor(corpus)
        extra["index_build_s"] = round(time.perf_counter() - t0, 2)
        search, name = floor.search, (f"bm25-floor (sqlite {sqlite3.sqlite_version} fts5 "
                                      "porter unicode61, OR)")
    elif a.mode == "cli":
        search = CliSearch(a.search_cmd, a.results_path, a.timeout)
        name = a.name or f"cli: {a.search_cmd}"
    else:
        sys.path[:0] = a.path
        if a.setup:
            t0 = time.perf_counter()
            resolve(a.setup)(list(import_records(corpus, a.tag_prefix)))
            extra["setup_s"] = round(time.perf_counter() - t0, 2)
        search, name = resolve(a.callable), a.name or f"python: {a.callable}"

    r = evaluate(search, name=name, query_field=a.query_field, max_queries=a.max_queries,
                 tag_prefix=a.tag_prefix, tags_field=a.tags_field, per_query_path=a.per_query,
                 queries=queries)
    r.update(extra)
    if isinstance(search, CliSearch):
        r["errors"] = search.errors
    print(json.dumps(r) if a.json else report(r))
    if a.json_out:
        with open(a.json_out, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    main()

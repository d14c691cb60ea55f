"""Search quality on the public relevance set (../shared/benchmarks/relevance):
its corpus imported into a throw-away store, its queries run through the
library API with default settings, scored by its own evaluator.

    .venv/bin/python bench/relevance.py [--data DIR] [--query-field query_short] [--json]

Also imported by tests/test_relevance.py (the quality gate).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
from pathlib import Path
from types import ModuleType

# The set lives outside the repository; tests/data/relevance holds a copy.
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "relevance"
COPY_DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "relevance"


def data_dir() -> Path:
    if "KIOKU_RELEVANCE_DATA" in os.environ:
        return Path(os.environ["KIOKU_RELEVANCE_DATA"])
    return SHARED_DATA if (SHARED_DATA / "corpus.jsonl").exists() else COPY_DATA


def evaluator(data: Path) -> ModuleType:
    """The set's own eval_relevance.py, loaded from its directory."""
    spec = importlib.util.spec_from_file_location("eval_relevance", data / "eval_relevance.py")
    if spec is None or spec.loader is None:
        raise FileNotFoundError(data / "eval_relevance.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("eval_relevance", module)
    spec.loader.exec_module(module)
    return module


def open_memory(state_dir: Path, data: Path):  # -> Memory
    """A Memory on a fresh store holding the set's corpus (via import),
    with default settings (the caller's environment is left as it was)."""
    from kioku_mesh.api import Memory
    from kioku_mesh.api.transfer import import_lines

    ev = evaluator(data)
    corpus, _ = ev.load_data(data)
    saved = dict(os.environ)
    for name in list(os.environ):
        if name.startswith(("KIOKU_MESH_", "MESH_MEM_")):
            del os.environ[name]
    os.environ["KIOKU_MESH_STATE_DIR"] = str(state_dir)
    os.environ["KIOKU_MESH_CONFIG"] = str(state_dir / "no-config.yaml")
    try:
        mem = Memory(cwd=state_dir)
        mem.identity  # noqa: B018
    finally:
        os.environ.clear()
        os.environ.update(saved)
    lines = (json.dumps(r) for r in ev.import_records(corpus))
    report = import_lines(mem, lines)
    if report.errors:
        raise RuntimeError(f"import errors: {report.errors[:3]}")
    return mem


def searcher(mem):  # -> Callable[[str, int], list[dict]]
    from kioku_mesh.api import SearchQuery

    def run(query: str, k: int) -> list[dict]:
        result = mem.search(SearchQuery(text=query, limit=k))
        return [{"tags": h.observation.tags} for h in result.hits]

    return run


def floor(data: Path, query_field: str = "query") -> dict:
    """The evaluator's plain BM25 floor on the same data."""
    ev = evaluator(data)
    corpus, _ = ev.load_data(data)
    engine = ev.Bm25Floor(corpus)
    return ev.evaluate(engine.search, data, name="bm25-floor", query_field=query_field)


def run(data: Path, query_field: str = "query") -> dict:
    ev = evaluator(data)
    with tempfile.TemporaryDirectory(prefix="km-relevance-") as tmp:
        mem = open_memory(Path(tmp), data)
        try:
            return ev.evaluate(searcher(mem), data, name="kioku-mesh (library, defaults)",
                               query_field=query_field)
        finally:
            mem.close()


def _whole_pieces(query: str) -> list:
    """Terms as before ADR 0012: a whitespace-separated piece is one phrase
    ("data-dir" -> "data dir"), stop words still dropped."""
    from kioku_mesh.store.search import query as q

    terms = []
    for piece in query.split():
        parsed = [t for t in q.parse_terms(piece) if not q._is_stop(t)]
        if len(parsed) > 1:
            tokens = tuple(t for term in parsed for t in term.tokens)
            parsed = [q.Term(piece.lower(), tokens, raw=piece)]
        terms.extend(t for t in parsed if t not in terms)
    return terms


# Each step adds one thing to the one before; the last is the default.
STEPS: list[tuple[str, dict[str, object]]] = [
    ("BM25, every match ranked (no window), weights 6/3/1/4/2, no boosts, every word a "
     "prefix", {"weights": (6.0, 3.0, 1.0, 4.0, 2.0), "stop": False, "prefix_min": 1,
                "boosts": False, "whole": True}),
    ("+ stop words dropped", {"stop": True}),
    ("+ identifiers by their parts", {"whole": False}),
    ("+ prefix only for words of 4+ characters", {"prefix_min": 4}),
    ("+ column weights 3/2/1/2/1", {"weights": (3.0, 2.0, 1.0, 2.0, 1.0)}),
    ("+ importance and recency boost (the default)", {"boosts": True}),
]


def apply_step(settings: dict[str, object]):  # -> a function that undoes it
    from kioku_mesh.store.search import engine as pkg
    from kioku_mesh.store.search import query, scoring, topk

    saved = [(query, "STOP_WORDS", query.STOP_WORDS), (query, "PREFIX_MIN", query.PREFIX_MIN),
             (scoring, "RECENCY_FLOOR", scoring.RECENCY_FLOOR),
             (scoring, "IMPORTANCE_STEP", scoring.IMPORTANCE_STEP),
             (scoring, "IMPORTANCE_BASE", scoring.IMPORTANCE_BASE),
             (topk, "WORD_WEIGHTS", topk.WORD_WEIGHTS), (pkg, "parse_terms", pkg.parse_terms)]
    if not settings["stop"]:
        query.STOP_WORDS = frozenset()
    query.PREFIX_MIN = int(settings["prefix_min"])  # type: ignore[call-overload]
    if not settings["boosts"]:
        scoring.RECENCY_FLOOR, scoring.IMPORTANCE_STEP, scoring.IMPORTANCE_BASE = 1.0, 0.0, 1.0
    weights = tuple(settings["weights"])  # type: ignore[arg-type]
    topk.WORD_WEIGHTS = ", ".join(str(w) for w in (*weights, 0.0))
    if settings["whole"]:
        pkg.parse_terms = _whole_pieces

    def undo() -> None:
        for module, name, value in saved:
            setattr(module, name, value)
    return undo


def steps(data: Path, query_field: str) -> list[tuple[str, dict]]:
    """Each step's scores on one store (exhaustive ranking, so the steps
    measure relevance only)."""
    ev = evaluator(data)
    out = []
    with tempfile.TemporaryDirectory(prefix="km-relevance-") as tmp:
        mem = open_memory(Path(tmp), data)
        from kioku_mesh.api import SearchQuery
        from kioku_mesh.store.search import search

        def run_one(text: str, k: int) -> list[dict]:
            result = search(mem.store.db, SearchQuery(text=text, limit=k), mem.reader_scope,
                            exhaustive=True)
            return [{"tags": h.observation.tags} for h in result.hits]

        settings: dict[str, object] = {}
        try:
            for name, change in STEPS:
                settings.update(change)
                undo = apply_step(settings)
                try:
                    out.append((name, ev.evaluate(run_one, data, name=name,
                                                  query_field=query_field)))
                finally:
                    undo()
        finally:
            mem.close()
    return out


def results(data: Path | None = None) -> list[dict]:
    """The floor and ours, on both query fields (for run_all.py)."""
    data = data or data_dir()
    return [r for field in ("query", "query_short") for r in (floor(data, field),
                                                              run(data, field))]


def table(rows: list[dict]) -> str:
    out = ["| system | query field | MRR@10 | R@5 | attrs MRR@10 | poetry MRR@10 |",
           "|---|---|---:|---:|---:|---:|"]
    for r in rows:
        by = r["by_project"]
        out.append(f"| {r['system']} | {r['query_field']} | {r['mrr@10']:.4f} | "
                   f"{r['recall@5']:.4f} | {by['attrs']['mrr@10']:.4f} | "
                   f"{by['poetry']['mrr@10']:.4f} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", type=Path, default=data_dir())
    parser.add_argument("--query-field", default="query", choices=("query", "query_short"))
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--steps", action="store_true",
                        help="a table of what each ranking step adds (ADR 0012)")
    args = parser.parse_args(argv)
    ev = evaluator(args.data)
    if args.steps:
        base = floor(args.data, args.query_field)
        print("| step | MRR@10 | R@5 | attrs MRR@10 | poetry MRR@10 |\n|---|---|---|---|---|")
        rows = [("evaluator's BM25 floor", base)] + steps(args.data, args.query_field)
        for name, r in rows:
            by = r["by_project"]
            print(f"| {name} | {r['mrr@10']:.4f} | {r['recall@5']:.4f} | "
                  f"{by['attrs']['mrr@10']:.4f} | {by['poetry']['mrr@10']:.4f} |")
        return 0
    results = [floor(args.data, args.query_field), run(args.data, args.query_field)]
    for r in results:
        print(json.dumps(r) if args.json else ev.report(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())

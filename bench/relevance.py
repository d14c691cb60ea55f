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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", type=Path, default=data_dir())
    parser.add_argument("--query-field", default="query", choices=("query", "query_short"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    ev = evaluator(args.data)
    results = [floor(args.data, args.query_field), run(args.data, args.query_field)]
    for r in results:
        print(json.dumps(r) if args.json else ev.report(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())

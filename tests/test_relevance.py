"""Quality gate: the public relevance set (tests/data/relevance, a copy of
../shared/benchmarks/relevance) loaded into a store, its 500 changelog
sentences searched through the library API with default settings. Fails when
MRR@10 falls to the plain BM25 floor its own evaluator computes on the same
data: a speed-up that changes answers cannot land unnoticed (ADR 0012)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data" / "relevance"
sys.path.insert(0, str(ROOT / "bench"))

import relevance  # noqa: E402  (bench/relevance.py)

MARGIN = 0.03  # issue 10: at least this far above the floor


@pytest.fixture(scope="module")
def scores() -> dict[str, dict]:
    return {"floor": relevance.floor(DATA), "ours": relevance.run(DATA)}


def test_mrr_at_10_clears_the_bm25_floor_by_the_margin(scores: dict[str, dict]) -> None:
    floor, ours = scores["floor"], scores["ours"]
    assert floor["mrr@10"] > 0.4  # the evaluator really ran on the whole set
    assert ours["mrr@10"] >= floor["mrr@10"] + MARGIN, (ours["mrr@10"], floor["mrr@10"])
    assert ours["recall@5"] >= floor["recall@5"] + MARGIN, (ours["recall@5"], floor["recall@5"])


def test_no_project_falls_below_its_floor(scores: dict[str, dict]) -> None:
    floor, ours = scores["floor"]["by_project"], scores["ours"]["by_project"]
    assert set(ours) == set(floor) == {"attrs", "poetry"}
    for project in floor:
        assert ours[project]["mrr@10"] >= floor[project]["mrr@10"], project


def test_every_query_was_answered(scores: dict[str, dict]) -> None:
    assert scores["ours"]["queries"] == 500
    assert scores["ours"]["zero_result_rate"] == 0.0
    assert scores["ours"]["unmapped_hits_in_top10"] == 0

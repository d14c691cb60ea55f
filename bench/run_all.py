"""Run every kioku-mesh benchmark and print the results as markdown.

    .venv/bin/python bench/run_all.py            # full run: 10k and 100k (4-8 min on 2 cores)
    .venv/bin/python bench/run_all.py --quick    # small smoke run (well under a minute)
    .venv/bin/python bench/run_all.py --million  # also import/open 1,000,000 memories (+15 min)
    .venv/bin/python bench/run_all.py --mcp      # also the MCP server (vs kioku-mesh 1.2.0 in
                                                 # /tmp/refvenv when present; full: +10-15 min)

Corpora and built stores are cached under bench/results/ (git-ignored); the
markdown report and the raw numbers (JSON) are written there too.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bench_cli
import bench_import
import bench_mcp
import bench_open
import bench_save
import bench_search
import common
import relevance


@dataclass
class Plan:
    import_sizes: dict[int, int]  # size -> runs
    open_sizes: list[int]
    open_reps: int
    search_sizes: list[int]
    search_rounds: int
    cli_sizes: list[int]
    cli_runs: int
    save_sizes: list[int]
    save_runs: int


FULL = Plan(
    import_sizes={10_000: 5, 100_000: 3},
    open_sizes=[10, 10_000, 100_000],
    open_reps=50,
    search_sizes=[10_000, 100_000],
    search_rounds=30,
    cli_sizes=[10, 10_000, 100_000],
    cli_runs=30,
    save_sizes=[10_000, 100_000],
    save_runs=30,
)
QUICK = Plan(
    import_sizes={2_000: 1},
    open_sizes=[10, 2_000],
    open_reps=10,
    search_sizes=[2_000],
    search_rounds=3,
    cli_sizes=[2_000],
    cli_runs=5,
    save_sizes=[2_000],
    save_runs=5,
)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def report(plan: Plan, res: dict[str, Any], argv: list[str]) -> str:
    m = res["machine"]
    cmd = "python bench/run_all.py" + (" " + " ".join(argv) if argv else "")
    py = ".venv/bin/python bench"
    out = [
        "## Machine",
        "",
        f"- `uname -m`: {m['machine']}; CPU: {m['cpu']} ({m['cores']} cores); {m['os']}",
        f"- Python {m['python']}, SQLite {m['sqlite']}",
        f"- kioku-mesh {m['kioku_mesh']}; {m['source']}",
        f"- run: `{cmd}`, started {res['started']}, took {res['elapsed_s'] / 60:.1f} min; "
        f"load average (1/5 min) at start {res['load_start']}, at end {res['load_end']}",
        "",
        "## One-shot CLI wall time",
        "",
        f"Command: `{py}/bench_cli.py --sizes {','.join(map(str, plan.cli_sizes))} "
        f"--runs {plan.cli_runs}`",
        "",
        bench_cli.table(res["cli"]),
        "",
    ]
    out += [f"- {name}: `{c['command']}`" for name, c in res["cli"][0]["commands"].items()]
    out += [
        "",
        "In-process `Memory.save()` (what `save` costs once Python is up):",
        "",
        f"Command: `{py}/bench_save.py --sizes {','.join(map(str, plan.save_sizes))} "
        f"--runs {plan.save_runs}`",
        "",
        bench_save.table(res["save"]),
        "",
        "## Search relevance (public set, library API, defaults)",
        "",
        f"Command: `{py}/relevance.py` (ADR 0012: at least the floor + 0.03)",
        "",
        relevance.table(res["relevance"]),
        "",
        "## In-process search latency",
        "",
        f"Command: `{py}/bench_search.py --sizes {','.join(map(str, plan.search_sizes))} "
        f"--rounds {plan.search_rounds}`",
        "",
        bench_search.table(res["search"]),
        "",
        "By category:",
        "",
        bench_search.category_table(res["search"]),
        "",
        "Per query (matches = total hits; mode `any` = no memory had every term):",
        "",
        bench_search.query_table(res["search"]),
        "",
        "## Import throughput",
        "",
        f"Command: `{py}/bench_import.py --sizes "
        f"{','.join(map(str, plan.import_sizes))} --runs N` "
        f"(runs: {', '.join(f'{n:,}: {r}' for n, r in plan.import_sizes.items())})",
        "",
        bench_import.table(res["import"]),
        "",
        "## Database size on disk",
        "",
        bench_import.size_table(res["import"]),
        "",
        "## Store open time",
        "",
        f"Command: `{py}/bench_open.py --sizes {','.join(map(str, plan.open_sizes))} "
        f"--reps {plan.open_reps}`",
        "",
        bench_open.table(res["open"]),
        "",
    ]
    return "\n".join(out)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small, fast smoke run")
    parser.add_argument("--million", action="store_true",
                        help="also import and open a 1,000,000-memory store (minutes, ~6 GB)")
    parser.add_argument("--mcp", action="store_true",
                        help="also the MCP server over stdio, next to the reference install "
                             "(see bench/bench_mcp.py)")
    parser.add_argument("--out", type=Path, default=common.RESULTS,
                        help="directory for the report and raw JSON (default bench/results)")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    if args.million:
        plan.import_sizes[1_000_000] = 1
        plan.open_sizes.append(1_000_000)
    started = time.time()
    res: dict[str, Any] = {
        "machine": common.machine_info(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(started)),
        "load_start": common.load(),
    }
    log("import throughput (also builds the cached stores):")
    res["import"] = [
        bench_import.bench_import(n, runs, log) for n, runs in plan.import_sizes.items()
    ]
    log("store open:")
    res["open"] = [bench_open.bench_open(n, plan.open_reps, log) for n in plan.open_sizes]
    log("search relevance (public set):")
    res["relevance"] = relevance.results()
    log("in-process search:")
    res["search"] = [
        bench_search.bench_search(n, plan.search_rounds, log) for n in plan.search_sizes
    ]
    log("one-shot CLI:")
    res["cli"] = [bench_cli.bench_cli(n, plan.cli_runs, log) for n in plan.cli_sizes]
    log("in-process save:")
    res["save"] = [bench_save.bench_save(n, plan.save_runs, log) for n in plan.save_sizes]
    mcp_args = (([0, 2_000], 3, 50) if args.quick else ([0, 10_000, 100_000], 10, 300))
    if args.mcp:
        log("MCP server:")
        res["mcp"] = bench_mcp.bench_mcp(*mcp_args, log=log)
    res["elapsed_s"] = time.time() - started
    res["load_end"] = common.load()
    markdown = report(plan, res, argv)
    if args.mcp:
        sizes, runs, calls = mcp_args
        markdown += "\n" + bench_mcp.section(
            res["mcp"], f".venv/bin/python bench/bench_mcp.py --sizes {','.join(map(str, sizes))} "
                        f"--start-runs {runs} --calls {calls}")
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(started))
    name = "quick" if args.quick else "full"
    (args.out / f"results-{name}-{stamp}.json").write_text(json.dumps(res, indent=2))
    (args.out / f"results-{name}-{stamp}.md").write_text(markdown)
    print(markdown)
    log(f"written: {args.out}/results-{name}-{stamp}.md and .json")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

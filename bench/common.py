"""Shared helpers for the benchmarks: isolated environments, timing, stats, cached stores.

Every benchmark runs kioku-mesh in throw-away state directories (env
KIOKU_MESH_STATE_DIR, and KIOKU_MESH_CONFIG pointing at a file that does not
exist, so no user config is read). Built stores are cached under
bench/results/ keyed by corpus size, seed, generator version and a hash of
the store code, so a schema change rebuilds them.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import platform
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import corpus

import kioku_mesh
from kioku_mesh.api import transfer
from kioku_mesh.store import Store, textindex

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "results"
SEED = 42
# The CLI and interpreter of the running Python: run the benchmarks with the
# project venv (.venv/bin/python bench/run_all.py) to measure its install.
PYTHON = sys.executable
CLI = str(Path(sys.executable).with_name("kioku-mesh"))


# ----------------------------------------------------------------- environment


# Dropped from the environment of measured processes: KIOKU_MESH_*/MESH_MEM_*
# (only ours count) and PYTHONDONTWRITEBYTECODE, under which every CLI start
# recompiles kioku_mesh from source (~20 ms) where an installed copy has .pyc.
DROP_ENV = ("KIOKU_MESH_", "MESH_MEM_", "PYTHONDONTWRITEBYTECODE")


def clean_env(state_dir: Path) -> dict[str, str]:
    """The process environment with only our KIOKU_MESH_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(DROP_ENV)}
    env.update(
        KIOKU_MESH_STATE_DIR=str(state_dir),
        KIOKU_MESH_CONFIG=str(state_dir / "no-config.yaml"),
        NO_COLOR="1",
    )
    return env


class use_env:
    """Context manager: set our KIOKU_MESH_* variables in this process."""

    def __init__(self, state_dir: Path) -> None:
        self.new = clean_env(state_dir)
        self.saved: dict[str, str] = {}

    def __enter__(self) -> use_env:
        self.saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(self.new)
        return self

    def __exit__(self, *exc: object) -> None:
        os.environ.clear()
        os.environ.update(self.saved)


def temp_dir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"kioku-bench-{prefix}-"))


# --------------------------------------------------------------------- timing


@dataclass
class ProcTime:
    wall_s: float
    cpu_s: float  # user + sys of the child: what it cost, whatever else ran
    returncode: int
    stdout: bytes
    stderr: bytes


def run_timed(cmd: list[str], env: dict[str, str], stdin: bytes | None = None) -> ProcTime:
    """Run a process to completion; wall time around it and its own CPU time."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, input=stdin, capture_output=True, cwd=tempfile.gettempdir())
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return ProcTime(wall, cpu, proc.returncode, proc.stdout, proc.stderr)


def check(result: ProcTime, what: str) -> ProcTime:
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed ({result.returncode}): {result.stderr.decode()[-500:]}")
    return result


# ---------------------------------------------------------------------- stats


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (p100 = max); values need not be sorted."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, -(-len(ordered) * pct // 100))  # ceil(n * pct / 100)
    return ordered[int(rank) - 1]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "median": statistics.median(values),
        "p90": percentile(values, 90),
        "p99": percentile(values, 99),
        "min": min(values),
        "max": max(values),
    }


def ms(seconds: float) -> str:
    value = seconds * 1000
    return f"{value:.3f}" if value < 10 else f"{value:.1f}" if value < 100 else f"{value:.0f}"


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f}/{five:.2f}"


# -------------------------------------------------------------------- machine


def machine_info() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "machine": platform.machine(),
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "kioku_mesh": f"{kioku_mesh.__version__} ({Path(kioku_mesh.__file__).parent})",
        "source": source_state(),
    }


def source_state() -> str:
    """git HEAD of this checkout and a hash of the kioku_mesh source actually imported."""
    src = Path(kioku_mesh.__file__).resolve().parent
    commit = "unknown"
    try:
        out = subprocess.run(
            ["git", "-C", str(BENCH_DIR), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, check=True,
        )
        commit = out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    where = "this checkout" if BENCH_DIR.parent in src.parents else f"{src}, not this checkout"
    return (f"kioku_mesh source sha256 {code_hash(src, '*.py')[:12]} ({where}); "
            f"this checkout's HEAD {commit}")


def code_hash(root: Path, pattern: str) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob(pattern)):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


# ------------------------------------------------------------ corpus & stores


def corpus_file(count: int) -> Path:
    """The JSONL corpus for `count` memories (generated once, then reused)."""
    return corpus.write_jsonl(corpus.corpus_path(RESULTS / "corpora", count, SEED), count, SEED)


def store_key(count: int) -> str:
    """Cache key: corpus identity and the code that shapes the db file: its
    schema and what the indexes are fed (not how it is opened or searched)."""
    store_src = Path(kioku_mesh.__file__).resolve().parent / "store"
    digest = hashlib.sha256()
    for name in ("schema.py", "fingerprint.py"):
        digest.update(name.encode() + (store_src / name).read_bytes())
    # How an import lays the indexes out (batch sizes, FTS5 buffers).
    for func in (transfer.import_lines, Store.add_observations):
        digest.update(inspect.getsource(func).encode())
    # What the word index is fed (the query side of textindex may change freely).
    # (getattr: an older source tree, measured side by side, lacks some of them.)
    for name in ("words_for_index", "short_words_for_index", "_with_camel_parts",
                 "camel_parts", "_index_grams"):
        if hasattr(textindex, name):
            digest.update(inspect.getsource(getattr(textindex, name)).encode())
    digest.update(textindex._CJK.encode())
    if hasattr(textindex, "_CAMEL_WORD"):
        digest.update(textindex._CAMEL_WORD.pattern.encode())
    return f"n{count}-s{SEED}-g{corpus.GENERATOR_VERSION}-{digest.hexdigest()[:10]}"


def import_into(state_dir: Path, jsonl: Path) -> ProcTime:
    """`kioku-mesh import FILE` into `state_dir`, timed."""
    return check(run_timed([CLI, "import", str(jsonl)], clean_env(state_dir)), "import")


def store_cache(count: int) -> Path:
    return RESULTS / "stores" / store_key(count)


def cached_store(count: int, log: Callable[[str], None] = print) -> Path:
    """State dir holding a store built from the `count` corpus (built on first use)."""
    target = store_cache(count)
    if (target / "kioku.db").exists():
        return target
    jsonl = corpus_file(count)
    work = temp_dir(f"build{count}")
    log(f"  building the {count:,}-memory store (kioku-mesh import)...")
    result = import_into(work, jsonl)
    log(f"  built in {result.wall_s:.1f} s")
    return adopt_store(work, count)


def adopt_store(state_dir: Path, count: int) -> Path:
    """Keep a freshly imported state dir as the cached store for `count`."""
    target = store_cache(count)
    target.parent.mkdir(parents=True, exist_ok=True)
    if (target / "kioku.db").exists():
        shutil.rmtree(state_dir, ignore_errors=True)
    else:
        shutil.rmtree(target, ignore_errors=True)
        shutil.move(str(state_dir), str(target))
    return target


def copy_state(state_dir: Path, prefix: str) -> Path:
    """A private copy of a state dir, for benchmarks that write."""
    dest = temp_dir(prefix)
    for name in ("kioku.db", "kioku.db-wal", "pc_id"):
        if (state_dir / name).exists():
            shutil.copy2(state_dir / name, dest / name)
    return dest


def db_size(state_dir: Path) -> int:
    return sum(
        (state_dir / n).stat().st_size for n in ("kioku.db", "kioku.db-wal")
        if (state_dir / n).exists()
    )


def size_breakdown(db_path: Path) -> dict[str, int]:
    """Bytes used by rows, word index and trigram index (dbstat)."""
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        groups: dict[str, int] = {}
        for name, size in con.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"):
            if name.startswith("obs_words"):
                key = "word index"
            elif name.startswith("obs_tri"):
                key = "trigram index"
            elif name in ("observations", "obs_created", "obs_project", "obs_pc", "obs_rank") or (
                name.startswith("sqlite_autoindex_observations")
            ):
                key = "rows + b-tree indexes"
            else:
                key = "other"
            groups[key] = groups.get(key, 0) + size
        return groups
    finally:
        con.close()

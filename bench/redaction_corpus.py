"""Secret-redaction corpus results and cost, as recorded in docs/security.md.

Runs kioku_mesh.core.redact over the corpus in tests/redaction_corpus.py and
prints, per kind, the secrets caught and missed (KNOWN_GAPS count as missed)
and the false positives on the look-alikes; then the cost of redacting a
typical 2 KB memory (CPU time, best of rounds) and of importing the module.

    .venv/bin/python bench/redaction_corpus.py
    .venv/bin/python bench/redaction_corpus.py --scan .venv/lib/python3.11/site-packages/pydantic

--scan also counts findings in every text file under the given paths, cut in
2 KB pieces like memories: on code and docs that hold no real secrets, each
finding is a false positive or a documentation example.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import redaction_corpus as corpus  # noqa: E402

from kioku_mesh.core.models import Observation  # noqa: E402
from kioku_mesh.core.redact import KINDS, redact, redact_observation  # noqa: E402

TYPICAL = (
    "Root cause: the replication publisher re-sent every change after a restart because "
    "published_seq was advanced before the Zenoh put returned; fixed in commit "
    "3f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39. Config: set `mesh.connect: [tcp/10.0.0.2:7447]` "
    "and `timeout=30s` in ~/.config/kioku-mesh/config.yaml. The token bucket limiter now uses "
    "max_tokens=64 and refill_rate: 8. See PR #68 and docs/adr/0005.\n"
    "```python\ndef publish(self, change: Change) -> None:\n    key = keyspace.key_for(change.obs)\n"
    "    self.session.put(key, change.payload, congestion_control=BLOCK)\n"
    "    self.published_seq = change.seq\n```\n"
)


def corpus_table() -> tuple[list[str], dict[str, int]]:
    caught: Counter[str] = Counter()
    missed: Counter[str] = Counter()
    false_pos: Counter[str] = Counter()
    missed_names: list[str] = []
    fp_names: list[str] = []
    for case in corpus.SECRETS + corpus.KNOWN_GAPS:
        out, findings = redact(case.text)
        found = {f.kind for f in findings}
        gone = all(s not in out for s in case.secrets)
        for kind in case.kinds:
            if kind in found and gone:
                caught[kind] += 1
            else:
                missed[kind] += 1
                missed_names.append(case.name)
    for case in corpus.NON_SECRETS:
        _, findings = redact(case.text)
        for f in findings:
            false_pos[f.kind] += 1
        if findings:
            fp_names.append(case.name)
    lines = ["| kind | caught | missed | false positives |", "| --- | ---: | ---: | ---: |"]
    for kind in KINDS:
        if caught[kind] or missed[kind] or false_pos[kind]:
            lines.append(f"| {kind} | {caught[kind]} | {missed[kind]} | {false_pos[kind]} |")
    totals = {"secret_cases": len(corpus.SECRETS) + len(corpus.KNOWN_GAPS),
              "expected_kinds": sum(caught.values()) + sum(missed.values()),
              "caught": sum(caught.values()), "missed": sum(missed.values()),
              "look_alikes": len(corpus.NON_SECRETS), "false_positive_cases": len(fp_names),
              "false_positive_findings": sum(false_pos.values())}
    lines.append(f"| **total** | **{totals['caught']}** | **{totals['missed']}** | "
                 f"**{totals['false_positive_findings']}** |")
    if missed_names:
        lines.append(f"\nmissed: {', '.join(missed_names)}")
    if fp_names:
        lines.append(f"false positives: {', '.join(fp_names)}")
    return lines, totals


def _best_us(fn, rounds: int = 7, calls: int = 200) -> float:
    fn()
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(calls):
            fn()
        best = min(best, (time.process_time() - start) / calls)
    return best * 1e6


def timing() -> list[str]:
    text = (TYPICAL * 6)[:2048]
    with_secret = text[:1940] + "\nexport GITHUB_TOKEN=" + corpus._GHP + "\n"
    obs = Observation("a" * 32, "2026-11-25T00:00:00.000000Z", text,
                      "Replication re-sent changes after a restart",
                      summary="Root cause: the publisher re-sent every change after a restart.",
                      tags=["mesh", "replication"], source_files=["src/kioku_mesh/mesh/node.py"],
                      references=["#68"])
    dense = "\n".join(c.text for c in corpus.SECRETS + corpus.NON_SECRETS)
    probe = ("import time, kioku_mesh.core.models, base64, collections\n"
             "t = time.process_time()\nimport kioku_mesh.core.redact\n"
             "print((time.process_time() - t) * 1000)")
    # With a bytecode cache, as an installed package has (outside the tree, whatever
    # PYTHONDONTWRITEBYTECODE says here); the first run fills it.
    with tempfile.TemporaryDirectory() as cache:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = cache
        runs = [float(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                                     check=True, env=env).stdout) for _ in range(6)]
    imports = sorted(runs[1:])
    return [
        f"redact(), typical 2 KB memory, no secret:   {_best_us(lambda: redact(text)):7.0f} us",
        f"redact(), same with one GitHub token:       {_best_us(lambda: redact(with_secret)):7.0f} us",
        f"redact_observation(), that memory (a save): {_best_us(lambda: redact_observation(obs)):7.0f} us",
        f"redact(), whole corpus ({len(dense) // 1024} KiB, dense):     "
        f"{_best_us(lambda: redact(dense), 3, 10):7.0f} us",
        f"import kioku_mesh.core.redact (median of 5):  {imports[2] * 1000:7.0f} us",
    ]


def scan(paths: list[str]) -> list[str]:
    hits: Counter[str] = Counter()
    files = size = 0
    for root in paths:
        base = Path(root)
        for path in [base] if base.is_file() else sorted(base.rglob("*")):
            if not path.is_file() or path.suffix not in (
                    ".py", ".md", ".rst", ".txt", ".toml", ".yaml", ".yml", ".cfg", ".json", ".ini"):
                continue
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            files += 1
            size += len(text)
            for i in range(0, len(text), 2048):
                hits.update(f.kind for f in redact(text[i:i + 2048])[1])
    return [f"scanned {files} files, {size / 1e6:.1f} MB: {sum(hits.values())} findings "
            f"{dict(hits.most_common())}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scan", nargs="*", default=None, metavar="PATH",
                        help="also count findings in text files under these paths")
    parser.add_argument("--no-timing", action="store_true")
    args = parser.parse_args()
    lines, totals = corpus_table()
    print("\n".join(lines))
    print()
    print(" ".join(f"{k}={v}" for k, v in totals.items()))
    if not args.no_timing:
        print()
        print("\n".join(timing()))
    if args.scan:
        print()
        print("\n".join(scan(args.scan)))


if __name__ == "__main__":
    main()

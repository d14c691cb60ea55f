"""The search query set: realistic mixed queries over the synthetic corpus.

Words are taken from the corpus vocabulary by frequency rank, so "common",
"mid" and "rare" mean the same thing at every corpus size: with the Zipf-like
skew of corpus.py, a common word (rank < 60) is in roughly half the memories
or more, a mid word (rank 100-400) in a few percent, a rare word (rank
1000+) in well under one percent. Only real English/software words are used,
as a person or agent would type them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import corpus


@dataclass(frozen=True)
class Query:
    category: str
    text: str
    project: str | None = None

    def label(self) -> str:
        return self.text + (f" [project={self.project}]" if self.project else "")


def _real_words(vocab: corpus.Vocabulary, lo: int, hi: int, min_len: int = 4) -> list[str]:
    real = set(corpus.REAL_WORDS)
    return [w for w in vocab.words[lo:hi] if w in real and len(w) >= min_len]


def query_set(seed: int) -> list[Query]:
    vocab = corpus.Vocabulary(random.Random(seed))  # the generator's first draw
    common = _real_words(vocab, 0, 60)
    mid = _real_words(vocab, 100, 400)
    rare = _real_words(vocab, 1000, 3000)
    long_mid = [w for w in mid if len(w) >= 8]
    long_rare = [w for w in rare if len(w) >= 8]
    big, small = corpus.PROJECTS[0], corpus.PROJECTS[5]
    q = [
        Query("one word", common[0]),
        Query("one word", common[1]),
        Query("one word", mid[0]),
        Query("one word", mid[1]),
        Query("one word", mid[2]),
        Query("one word", rare[0]),
        Query("one word", rare[1]),
        Query("one word", rare[2]),
        Query("two words", f"{common[2]} {mid[3]}"),
        Query("two words", f"{mid[4]} {mid[5]}"),
        Query("two words", f"{mid[6]} {mid[7]}"),
        Query("two words", f"{mid[8]} {rare[3]}"),
        Query("two words", f"{rare[4]} {mid[9]}"),
        Query("two words", f"{common[3]} {common[4]}"),
        Query("partial word", long_mid[0][:6]),
        Query("partial word", long_mid[1][:5]),
        Query("partial word", long_rare[0][:6]),
        Query("partial word", long_mid[2][2:7]),  # infix: only the trigram index finds it
        Query("partial word", common[5][:3]),
        Query("japanese", "設定"),
        Query("japanese", "タイムアウト"),
        Query("japanese", "データベース 接続"),
        Query("japanese", "全文検索"),
        Query("any-term fallback", f"{mid[10]} qzxvjk"),
        Query("any-term fallback", f"{rare[5]} {rare[6]} wqpzzy"),
        Query("any-term fallback", f"{common[6]} 見つからない"),
        Query("phrase", '"root cause"'),
        Query("project filter", mid[11], big),
        Query("project filter", f"{mid[12]} {mid[13]}", small),
        Query("project filter", long_mid[3][:6], big),
        Query("project filter", "設定", small),
        Query("project filter", common[7], small),
    ]
    return q + sentences(seed)


def sentences(seed: int, count: int = 8) -> list[Query]:
    """8-20 word sentences in the corpus's own register (its sentence
    templates, filled from the same vocabulary): how agents ask."""
    vocab = corpus.Vocabulary(random.Random(seed))
    rng = random.Random(seed + 1)
    out = []
    for i in range(count):
        topic = [vocab.pick(rng) for _ in range(3)]
        text = corpus._fill(rng, vocab, rng.choice(corpus.SENTENCES), topic)
        if i % 2:  # every other one is two sentences long
            text += " " + corpus._fill(rng, vocab, rng.choice(corpus.SENTENCES), topic)
        words = text.split()
        out.append(Query("sentence", " ".join(words[:20])))
    return out


def cli_queries(seed: int) -> dict[str, Query]:
    """The queries the one-shot CLI benchmark runs."""
    qs = query_set(seed)
    return {"typical": qs[9], "common word": qs[0]}


if __name__ == "__main__":
    for query in query_set(42):
        print(f"{query.category:18s} {query.label()}")

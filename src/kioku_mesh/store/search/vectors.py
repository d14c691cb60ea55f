"""Meaning vectors in the store, and exact nearest-neighbour search over them.

Each memory has one row in `obs_vectors`: two int8 vectors (its subject, its
content) and their float32 scales, tagged with the model that made them. The
row is written in the memory's own insert transaction (the text is embedded
before the write lock is taken); `VectorIndex.sync` before every semantic
search embeds whatever still has none (a store written by an older version,
a model change, a failed model load), so a search never silently skips a
memory. Vectors are derived data: they are never replicated (ADR 0025).

In memory the index is an int8 matrix per facet, appended to as memories
arrive; a purge (the only delete of a memory row) bumps a counter that makes
the next sync reload. Scoring is a float32 matrix-vector product in chunks:
exact, ~6 ms per facet at 100k x 256 (docs/benchmarks.md).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from .embedder import Embedder

# One BLAS thread: a 100k x 256 product is a few ms, and on 2 busy cores
# OpenBLAS's threads waiting on each other made it 10x slower (measured:
# 126 -> 13 ms per 10k search under load). Set before numpy is first imported.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

FACETS = 2  # subject, content
CHUNK = 8192  # rows converted to float32 at a time (stays in cache, bounds RSS)
CATCH_UP_BATCH = 2000

SCHEMA = """
CREATE TABLE obs_vectors (
    seq INTEGER PRIMARY KEY,     -- observations.seq
    model TEXT NOT NULL,         -- the embedding model's id
    vecs BLOB NOT NULL           -- FACETS x dims int8, then FACETS float32 scales
);
CREATE TABLE obs_vectors_epoch (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    deletes INTEGER NOT NULL     -- memory rows deleted so far (purges)
);
INSERT INTO obs_vectors_epoch VALUES (1, 0);
CREATE TRIGGER obs_vectors_gone AFTER DELETE ON observations BEGIN
    DELETE FROM obs_vectors WHERE seq = old.seq;
    UPDATE obs_vectors_epoch SET deletes = deletes + 1;
END;
"""

Prepared = dict[str, bytes]  # observation id -> its vectors row (blob)


def texts_of(subject: str, content: str) -> tuple[str, str]:
    return subject, content or subject


def pack(model: Embedder, pairs: Sequence[tuple[str, str]]) -> list[bytes]:
    """The `vecs` blobs of (subject, content) pairs."""
    import numpy as np

    from .embedder import quantize

    flat = [t for s, c in pairs for t in texts_of(s, c)]
    q, scale = quantize(model.encode(flat))
    q = q.reshape(len(pairs), FACETS * model.dims)
    scale = scale.reshape(len(pairs), FACETS)
    return [q[i].tobytes() + scale[i].astype(np.float32).tobytes() for i in range(len(pairs))]


def write(db: sqlite3.Connection, model_id: str, rows: Sequence[tuple[int, bytes]]) -> None:
    db.executemany("INSERT OR REPLACE INTO obs_vectors(seq, model, vecs) VALUES (?, ?, ?)",
                   [(seq, model_id, blob) for seq, blob in rows])


def counts(db: sqlite3.Connection, model_id: str) -> tuple[int, int]:
    """(memories, memories with a vector of this model): status and doctor."""
    total = db.execute("SELECT count(*) FROM observations").fetchone()[0]
    done = db.execute("SELECT count(*) FROM obs_vectors v JOIN observations o ON o.seq = v.seq "
                      "WHERE v.model = ?", (model_id,)).fetchone()[0]
    return int(total), int(done)


def _all_embedded(db: sqlite3.Connection, model_id: str) -> bool:
    """Every memory has a vector of this model: vectors only exist for rows
    that exist (a delete trigger removes them), so equal counts say it
    without the row-by-row check (the first sync of a one-shot CLI search)."""
    rows = db.execute("SELECT count(*) FROM observations").fetchone()[0]
    done = db.execute("SELECT count(*) FROM obs_vectors WHERE model = ?", (model_id,)).fetchone()[0]
    return bool(rows == done)


class VectorIndex:
    """One store's vectors for one model, in memory, kept in step with it."""

    def __init__(self, model_loader: Callable[[], Embedder]) -> None:
        self._load_model = model_loader
        self._lock = threading.Lock()
        self.model: Embedder | None = None
        self.seqs: Any = None  # np.ndarray int64, ascending
        self.mats: list[Any] = []  # per facet: int8 (n, dims)
        self.scales: Any = None  # float32 (n, FACETS)
        self._n = 0
        self._upto = 0  # every observation with seq <= this has a vector here
        self._deletes = -1

    # ------------------------------------------------------------ writing

    def prepare(self, pairs: Sequence[tuple[str, str]]) -> list[bytes]:
        """Vectors of memories about to be inserted (before the write lock)."""
        model = self._model()
        return pack(model, pairs)

    def _model(self) -> Embedder:
        if self.model is None:
            self.model = self._load_model()
        return self.model

    # ------------------------------------------------------------ syncing

    def sync(self, db: sqlite3.Connection, progress: Callable[[int, int], None] | None = None
             ) -> None:
        """Embed every memory that has no vector of this model, then load
        what is new into memory."""
        with self._lock:
            model = self._model()
            deletes = db.execute("SELECT deletes FROM obs_vectors_epoch").fetchone()[0]
            if deletes != self._deletes:
                self._reset()
                self._deletes = deletes
            top = db.execute("SELECT coalesce(max(seq), 0) FROM observations").fetchone()[0]
            if top <= self._upto:
                return
            if self._upto or not _all_embedded(db, model.model_id):
                self._catch_up(db, model, progress)
            self._load(db, model)
            self._upto = top

    def _reset(self) -> None:
        self.seqs, self.mats, self.scales, self._n, self._upto = None, [], None, 0, 0

    def _catch_up(self, db: sqlite3.Connection, model: Embedder,
                  progress: Callable[[int, int], None] | None) -> None:
        sql = ("SELECT o.seq, o.subject, o.content FROM observations o WHERE o.seq > ? "
               "AND NOT EXISTS (SELECT 1 FROM obs_vectors v WHERE v.seq = o.seq AND v.model = ?) "
               "ORDER BY o.seq LIMIT ?")
        after, done = self._upto, 0
        while True:
            rows = db.execute(sql, (after, model.model_id, CATCH_UP_BATCH)).fetchall()
            if not rows:
                return
            blobs = pack(model, [(r[1], r[2]) for r in rows])
            db.execute("BEGIN IMMEDIATE")
            try:
                # Only rows still present: one may have been purged meanwhile.
                live = {r[0] for r in db.execute(
                    f"SELECT seq FROM observations WHERE seq IN ({','.join('?' * len(rows))})",
                    [r[0] for r in rows])}
                write(db, model.model_id, [(r[0], b) for r, b in zip(rows, blobs, strict=True)
                                           if r[0] in live])
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            after = rows[-1][0]
            done += len(rows)
            if progress is not None:
                progress(done, len(rows))

    def _load(self, db: sqlite3.Connection, model: Embedder) -> None:
        """Append the vectors written since the verified point, batch by
        batch into arrays sized up front: the MCP server's memory peak is the
        matrix itself, not a list of 100k row objects plus copies of it."""
        import numpy as np

        # From the verified point, not the last row loaded: a vector another
        # process wrote for an older row after we loaded newer ones is found.
        where = "FROM obs_vectors WHERE seq > ? AND model = ?"
        args = (self._upto, model.model_id)
        coming = db.execute(f"SELECT count(*) {where}", args).fetchone()[0]
        if not coming:
            return
        have = set(self.seqs[self.seqs > self._upto].tolist()) if self._n else set()
        d, n = model.dims, self._n
        seqs = np.empty(n + coming, dtype=np.int64)
        mats = [np.empty((n + coming, d), dtype=np.int8) for _ in range(FACETS)]
        scales = np.empty((n + coming, FACETS), dtype=np.float32)
        if n:
            seqs[:n] = self.seqs
            scales[:n] = self.scales
            for f in range(FACETS):
                mats[f][:n] = self.mats[f]
        body = FACETS * d
        cur = db.execute(f"SELECT seq, vecs {where} ORDER BY seq", args)
        while rows := cur.fetchmany(CHUNK):
            rows = [r for r in rows if r[0] not in have]
            if not rows:
                continue
            m = min(len(rows), len(seqs) - n)  # rows written since the count: next sync
            rows = rows[:m]
            raw = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.uint8)
            raw = raw.reshape(m, body + 4 * FACETS)
            vecs = raw[:, :body].view(np.int8).reshape(m, FACETS, d)
            for f in range(FACETS):
                mats[f][n:n + m] = vecs[:, f]
            scales[n:n + m] = np.ascontiguousarray(raw[:, body:]).view(np.float32)
            seqs[n:n + m] = [r[0] for r in rows]
            n += m
            if n == len(seqs):
                break
        self.seqs, self.mats, self.scales = seqs[:n], [m[:n] for m in mats], scales[:n]
        self._n = n
        if self._n > 1 and not bool((self.seqs[1:] > self.seqs[:-1]).all()):
            order = np.argsort(self.seqs, kind="stable")  # kept sorted for cosines_of
            self.seqs = self.seqs[order]
            self.mats = [m[order] for m in self.mats]
            self.scales = self.scales[order]

    # ------------------------------------------------------------ search

    def query_vector(self, text: str) -> np.ndarray:
        vector: np.ndarray = self._model().encode([text])[0]
        return vector

    def cosines(self, query: np.ndarray) -> np.ndarray:
        """Each memory's cosine to the query: the best of its facets."""
        import numpy as np

        out = np.full(self._n, -1.0, dtype=np.float32)
        for f, mat in enumerate(self.mats):
            for start in range(0, self._n, CHUNK):
                part = mat[start:start + CHUNK].astype(np.float32) @ query
                part *= self.scales[start:start + CHUNK, f]
                np.maximum(out[start:start + CHUNK], part, out=out[start:start + CHUNK])
        return out

    def cosines_of(self, query: np.ndarray, seqs: list[int]) -> dict[int, float]:
        """The cosine of these memories only (0 for one with no vector)."""
        import numpy as np

        if not self._n:
            return {s: 0.0 for s in seqs}
        want = np.array(seqs, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self.seqs, want), self._n - 1)
        found = self.seqs[pos] == want
        best = np.full(len(seqs), -1.0, dtype=np.float32)
        for f, mat in enumerate(self.mats):
            part = (mat[pos].astype(np.float32) @ query) * self.scales[pos, f]
            np.maximum(best, part, out=best)
        return {s: float(c) if ok else 0.0 for s, c, ok in zip(seqs, best, found, strict=True)}

    def most_similar(self, subject: str, content: str, k: int) -> list[tuple[int, float]]:
        """Memories most like a new one: the mean of subject-to-subject and
        content-to-content cosines (a paraphrase scores high on both; a
        memory on the same topic only on one), best first."""
        import numpy as np

        if not self._n:
            return []
        mine = self._model().encode(list(texts_of(subject, content)))
        sims = np.zeros(self._n, dtype=np.float32)
        for f, mat in enumerate(self.mats):
            for start in range(0, self._n, CHUNK):
                part = mat[start:start + CHUNK].astype(np.float32) @ mine[f]
                sims[start:start + CHUNK] += 0.5 * part * self.scales[start:start + CHUNK, f]
        top = np.argsort(-sims)[:k] if self._n <= k else np.argpartition(-sims, k)[:k]
        top = top[np.argsort(-sims[top])]
        return [(int(self.seqs[i]), float(sims[i])) for i in top]

    def nearest(self, query: np.ndarray, keep: Callable[[list[int]], set[int]], k: int,
                ) -> list[tuple[int, float]]:
        """The k memories closest to `query` among those `keep` lets through
        (it gets candidate seqs, best first, and returns the allowed ones),
        best first, as (seq, cosine). Candidates are checked in growing
        batches, so a narrow filter still gets its k best."""
        import numpy as np

        if not self._n or k <= 0:
            return []
        scores = self.cosines(query)
        first = min(self._n, max(4 * k, 256))
        # The first batch by partial sort (most searches end there).
        order = np.argpartition(-scores, first - 1)[:first] if first < self._n \
            else np.arange(self._n)
        order = order[np.argsort(-scores[order], kind="stable")]
        out: list[tuple[int, float]] = []
        start, batch = 0, first
        while len(out) < k:
            idx = order[start:start + batch]
            seqs = [int(s) for s in self.seqs[idx]]
            allowed = keep(seqs)
            out.extend((s, float(scores[i])) for s, i in zip(seqs, idx, strict=True)
                       if s in allowed)
            start += batch
            if start >= self._n:
                break
            if start >= len(order):
                order = np.argsort(-scores, kind="stable")
            batch *= 4
        return out[:k]

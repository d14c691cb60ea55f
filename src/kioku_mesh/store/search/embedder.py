"""Text -> meaning vectors with the static model shipped in `model/`.

The model is a table of one vector per vocabulary entry, distilled from
all-MiniLM-L6-v2 (scripts/build_model.py, ADR 0025): a text's vector is the
mean of its tokens' rows, L2-normalised. No network, no torch, ~0.1 ms per
text. numpy is imported here only, when the first vector is needed, so
commands that never embed do not pay for it.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...core.errors import StoreError
from .wordpiece import WordPiece

if TYPE_CHECKING:
    import numpy as np

MODEL_DIR = Path(__file__).resolve().parent / "model"
MAX_TOKENS = 512


class Embedder:
    def __init__(self, model_dir: Path = MODEL_DIR) -> None:
        import numpy as np

        try:
            config = json.loads((model_dir / "config.json").read_text())
            words = (model_dir / "vocab.txt").read_text(encoding="utf-8").split("\n")
            table = np.load(model_dir / "embeddings.npy")
            scales = np.load(model_dir / "scales.npy")
        except (OSError, ValueError) as exc:
            raise StoreError(f"cannot load the embedding model in {model_dir}: {exc}") from None
        if words and words[-1] == "":
            words.pop()
        vocab = {w: i for i, w in enumerate(words)}
        self.model_id: str = config["id"]
        self.dims: int = int(table.shape[1])
        self.tokens = WordPiece(vocab, vocab["[UNK]"])
        self.unk = vocab["[UNK]"]
        # Kept int8 (11 MB for 45k x 256): only the rows a text uses are
        # dequantised, so the MCP server's memory budget is not spent here.
        self._table = table
        self._scales = scales.astype(np.float32)

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit vectors (float32, one row per text; all zero for a text with
        no known word)."""
        import numpy as np

        out = np.zeros((len(texts), self.dims), dtype=np.float32)
        unk = self.unk
        for row, text in enumerate(texts):
            # Japanese, Chinese and Korean become single characters or
            # kana scraps in this English vocabulary: their rows make two
            # unrelated texts look alike, so they count as unknown.
            ids = [i for i in self.tokens.encode(text, MAX_TOKENS, skip_east_asian=True)
                   if i != unk]
            if ids:
                # Text by text, the mean as one small matrix product (scale
                # weights x int8 rows): 6x faster than one gather + reduceat
                # over a whole import batch, which leaves the cache.
                index = np.array(ids)
                out[row] = self._scales[index] @ self._table[index].astype(np.float32) / len(ids)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        out /= norms
        return out

def quantize(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int8 rows and one float32 scale per row: v ~= q * scale. A quarter of
    the bytes of float32, and no measured loss in ranking (ADR 0025)."""
    import numpy as np

    peak = np.abs(vectors).max(axis=1)
    scale = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
    q = np.rint(vectors / scale[:, None]).astype(np.int8)
    return q, scale


_lock = threading.Lock()
_shared: dict[str, Any] = {}


def shared_embedder() -> Embedder:
    """One model per process, loaded on first use (thread-safe)."""
    with _lock:
        if "model" not in _shared:
            _shared["model"] = Embedder()
        model: Embedder = _shared["model"]
        return model


def loaded() -> bool:
    return "model" in _shared


def model_id() -> str:
    """The shipped model's id without loading it (status, doctor)."""
    if loaded():
        return shared_embedder().model_id
    try:
        return str(json.loads((MODEL_DIR / "config.json").read_text())["id"])
    except (OSError, ValueError, KeyError) as exc:
        raise StoreError(f"cannot read the embedding model's config in {MODEL_DIR}: {exc}") from None

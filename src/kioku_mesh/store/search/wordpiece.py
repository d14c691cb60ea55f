"""BERT-uncased WordPiece in plain Python: text -> vocabulary ids.

The shipped embedding model was distilled from all-MiniLM-L6-v2, whose
tokenizer is BERT's (lower-case, accents stripped, split on whitespace and
punctuation, CJK ideographs one per token, then greedy longest-match
sub-words). Doing it here instead of depending on `tokenizers` keeps
`huggingface_hub` and its network client out of the install (ADR 0025);
tests/test_semantic_model.py checks the ids against ones `tokenizers` made.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

MAX_WORD_CHARS = 100  # a longer "word" is one unknown token, as in BERT
# ASCII text (most of it) in two regex passes instead of a loop per character:
# control characters go (tab and newlines stay), then runs of letters and
# digits are words and every other visible character is a piece of its own.
_ASCII_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ASCII_PIECES = re.compile(r"[a-z0-9]+|[^\sa-z0-9]")


def _is_cjk(cp: int) -> bool:
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def is_east_asian(ch: str) -> bool:
    """CJK ideographs, kana, hangul: an English model has no meaning for them."""
    cp = ord(ch)
    return _is_cjk(cp) or 0x3040 <= cp <= 0x30FF or 0xAC00 <= cp <= 0xD7AF or 0xFF66 <= cp <= 0xFF9D


def _is_punct(ch: str) -> bool:
    cp = ord(ch)
    # All non-letter/number ASCII counts as punctuation in BERT ("$", "^", "`").
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_control(ch: str) -> bool:
    if ch in "\t\n\r":
        return False
    return unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn")


def _clean_split(text: str) -> list[str]:
    """BertNormalizer + BertPreTokenizer: the pieces WordPiece then splits."""
    out: list[str] = []
    word: list[str] = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD or _is_control(ch):
            continue
        if ch.isspace() or unicodedata.category(ch) == "Zs":
            if word:
                out.append("".join(word))
                word = []
        elif _is_cjk(cp) or _is_punct(ch):
            if word:
                out.append("".join(word))
                word = []
            out.append(ch)
        else:
            word.append(ch)
    if word:
        out.append("".join(word))
    return out


def _fold(word: str) -> str:
    """Lower-case, then drop combining marks (NFD), as BERT-uncased does."""
    low = word.lower()
    if low.isascii():
        return low
    return "".join(c for c in unicodedata.normalize("NFD", low) if unicodedata.category(c) != "Mn")


class WordPiece:
    def __init__(self, vocab: dict[str, int], unk_id: int) -> None:
        self.vocab = vocab
        self.unk_id = unk_id
        # Words repeat a lot (commit messages, code words): cache per instance.
        self.word_ids = lru_cache(maxsize=200_000)(self._word_ids)

    def _word_ids(self, word: str) -> tuple[int, ...]:
        if len(word) > MAX_WORD_CHARS:
            return (self.unk_id,)
        ids = []
        start = 0
        while start < len(word):
            end = len(word)
            found = None
            while start < end:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                found = self.vocab.get(piece)
                if found is not None:
                    break
                end -= 1
            if found is None:
                return (self.unk_id,)  # BERT: the whole word becomes [UNK]
            ids.append(found)
            start = end
        return tuple(ids)

    def encode(self, text: str, max_tokens: int = 512, *, skip_east_asian: bool = False
               ) -> list[int]:
        """Token ids as BERT's tokenizer gives them; `skip_east_asian` leaves
        out pieces that start with a CJK, kana or hangul character."""
        ids: list[int] = []
        if text.isascii():
            for piece in _ASCII_PIECES.findall(_ASCII_CONTROL.sub("", text).lower()):
                ids.extend(self.word_ids(piece))
                if len(ids) >= max_tokens:
                    break
            return ids[:max_tokens]
        for piece in _clean_split(text):
            if skip_east_asian and is_east_asian(piece[0]):
                continue
            for folded in _clean_split(_fold(piece)) if not piece.isascii() else [piece.lower()]:
                ids.extend(self.word_ids(folded))
            if len(ids) >= max_tokens:
                return ids[:max_tokens]
        return ids

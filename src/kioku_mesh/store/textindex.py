"""Text shaping shared by indexing and querying.

The word index (FTS5 `porter unicode61`) sees CJK runs as overlapping
bigrams, so Japanese and Chinese words of two characters or more match
without a dictionary; the trigram index gives substring matches for partial
words. Index and query sides must shape text the same way, so both live here.
"""

from __future__ import annotations

import re

_CJK = (
    "\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff"
    "\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f"
)
_CJK_RUN = re.compile(f"[{_CJK}]+")
QUERY_TOKEN = re.compile(r"[^\W_]+")


def _index_grams(run: str) -> str:
    if len(run) == 1:
        return run
    # The run's last character stands alone too, so a one-character query
    # (a prefix search) finds it at the end of a run.
    grams = [run[i : i + 2] for i in range(len(run) - 1)]
    grams.append(run[-1])
    return " " + " ".join(grams) + " "


# A word with a case change inside (streamText, HTTPServer, getURL2) in a
# subject, summary or tag is indexed whole and, after it, by its parts, so
# `stream` finds `streamText`. Not in content: scanning a long text for such
# words costs more than the rest of its indexing (ADR 0012).
_CAMEL_HINT = re.compile(r"[a-z0-9][A-Z]|[A-Z][A-Z][a-z]")
_CAMEL_WORD = re.compile(r"\b(?=[A-Za-z0-9]*?(?:[a-z0-9][A-Z]|[A-Z][A-Z][a-z]))[A-Za-z0-9]+")
_CAMEL_PART = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


def camel_parts(word: str) -> list[str]:
    """Parts of a camelCase word ([] for a word without a case change)."""
    if not _CAMEL_HINT.search(word):
        return []
    parts = _CAMEL_PART.findall(word)
    return parts if len(parts) > 1 else []


def _with_camel_parts(text: str) -> str:
    return _CAMEL_WORD.sub(lambda m: m.group() + " " + " ".join(camel_parts(m.group())), text)


def words_for_index(text: str | None) -> str:
    """Text as fed to the word index (SQL function km_words: content)."""
    if not text:
        return ""
    if text.isascii() or not _CJK_RUN.search(text):
        return text
    return _CJK_RUN.sub(lambda m: _index_grams(m.group()), text)


def short_words_for_index(text: str | None) -> str:
    """A subject, summary or tags as fed to the word index (km_words_short):
    also camelCase words by their parts."""
    if text and _CAMEL_HINT.search(text):
        text = _with_camel_parts(text)
    return words_for_index(text)

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
_TERM = re.compile(r'"([^"]*)"|(\S+)')
MAX_TERMS = 64


def _index_grams(run: str) -> str:
    if len(run) == 1:
        return run
    # The run's last character stands alone too, so a one-character query
    # (a prefix search) finds it at the end of a run.
    grams = [run[i : i + 2] for i in range(len(run) - 1)]
    grams.append(run[-1])
    return " " + " ".join(grams) + " "


def words_for_index(text: str | None) -> str:
    """Text as fed to the word index (registered as SQL function km_words)."""
    if not text:
        return ""
    if not _CJK_RUN.search(text):
        return text
    return _CJK_RUN.sub(lambda m: _index_grams(m.group()), text)


def _query_tokens(term: str) -> tuple[list[str], bool]:
    """Tokens of one query term and whether the last one may be a prefix."""
    tokens: list[str] = []
    last_is_cjk_gram = False
    for piece in QUERY_TOKEN.findall(term):
        runs = _CJK_RUN.findall(piece)
        if not runs:
            tokens.append(piece)
            last_is_cjk_gram = False
            continue
        # A piece may mix scripts ("Zenoh設定"): split it at run borders.
        for part in re.split(f"([{_CJK}]+)", piece):
            if not part:
                continue
            if _CJK_RUN.fullmatch(part):
                if len(part) == 1:
                    tokens.append(part)
                    last_is_cjk_gram = False
                else:
                    tokens.extend(part[i : i + 2] for i in range(len(part) - 1))
                    last_is_cjk_gram = True
            else:
                tokens.append(part)
                last_is_cjk_gram = False
    return tokens, not last_is_cjk_gram


def split_terms(query: str) -> list[str]:
    """User query -> terms; "double quoted" text stays one term (a phrase),
    kept with its quotes: a quoted phrase is matched exactly, without the
    trailing prefix a bare term gets.

    NUL separates terms (FTS5 reads it as the end of an expression), repeats
    are dropped, and at most MAX_TERMS are kept (SQLite caps compound SELECTs).
    """
    terms: list[str] = []
    for quoted, bare in _TERM.findall((query or "").replace("\x00", " ")):
        text = (quoted if quoted else bare).strip()
        term = f'"{text}"' if quoted else text
        if QUERY_TOKEN.search(text) and term not in terms:
            terms.append(term)
            if len(terms) == MAX_TERMS:
                break
    return terms


def _unquote(term: str) -> tuple[str, bool]:
    if len(term) > 1 and term[0] == term[-1] == '"':
        return term[1:-1], True
    return term, False


def words_expr(term: str) -> str | None:
    """FTS5 expression for one term in the word index: a phrase, last token
    prefix unless the term was quoted."""
    text, quoted = _unquote(term)
    tokens, prefix = _query_tokens(text)
    prefix = prefix and not quoted
    if not tokens:
        return None
    phrase = '"' + " ".join(tokens) + '"'
    return phrase + "*" if prefix else phrase


def trigram_expr(term: str) -> str | None:
    """FTS5 expression for a substring match in the trigram index (3+ chars)."""
    text = _unquote(term)[0].strip()
    if len(text) < 3:
        return None
    return '"' + text.replace('"', '""') + '"'

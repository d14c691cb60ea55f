"""Query text -> search terms: how a sentence an agent types becomes terms.

Every word counts and none is required (ADR 0012). English stop words and
Japanese particles are dropped, unless the query has nothing else. An
identifier (`Response.stream_text()`, `--line-ranges`, `NO_COLOR`,
`camelCase`) becomes its parts, each a term, so it is found whole (all parts
match) and by any part. A "double quoted" text is one exact term.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..textindex import _CJK, _CJK_RUN, QUERY_TOKEN, camel_parts

MAX_TERMS = 64
# A word this long is also a prefix ("config" finds "configuration"); a shorter
# one ("py", "set") would match a crowd of longer words, slowly.
PREFIX_MIN = 4

STOP_WORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before
being below between both but by can could did do does doing down during each few for from
further had has have having he her here hers herself him himself his how i if in into is it
its itself just let me more most my myself no nor not now of off on once only or other our
ours out over own same she should so some such than that the their theirs them themselves
then there these they this those through to too under until up very was we were what when
where which while who whom why will with would you your yours yourself
""".split())

# Single-character Japanese particles: they split a run of Japanese text into
# words on the query side instead of becoming two-character grams of their own.
PARTICLES = "はがをにでとのもへや"
_PARTICLE_SPLIT = re.compile(f"[{PARTICLES}]")
_TERM = re.compile(r'"([^"]*)"|(\S+)')


@dataclass(frozen=True)
class Term:
    """One search term: `tokens` as the word index sees them (CJK as
    two-character grams), matched as a phrase; a bare term's last token is
    also a prefix."""

    label: str
    tokens: tuple[str, ...]
    quoted: bool = False
    raw: str = ""  # the text a substring (trigram) match looks for

    @property
    def may_be_prefix(self) -> bool:
        # A two-character gram is a whole gram; one character may start one.
        last = self.tokens[-1]
        return not self.quoted and not (len(last) == 2 and _CJK_RUN.fullmatch(last))

    @property
    def prefix(self) -> bool:
        """Matched as a word prefix from the start (else only if no word matches)."""
        last = self.tokens[-1]
        return self.may_be_prefix and (_CJK_RUN.fullmatch(last) is not None
                                       or len(last) >= PREFIX_MIN)

    def words_expr(self, prefix: bool | None = None) -> str:
        """The FTS5 phrase; `prefix` (default: self.prefix) makes its last
        token a prefix (a short word that is no word of its own, e.g. "aut")."""
        phrase = '"' + " ".join(self.tokens) + '"'
        return phrase + "*" if (self.prefix if prefix is None else prefix) else phrase

    def trigram_expr(self) -> str | None:
        text = self.raw.strip()
        if len(text) < 3:
            return None
        return '"' + text.replace('"', '""') + '"'


def _cjk_terms(run: str) -> list[Term]:
    """A Japanese/Chinese run -> words (split at particles), each as grams."""
    out = []
    for word in _PARTICLE_SPLIT.split(run) if len(run) > 1 else [run]:
        if len(word) == 1:
            out.append(Term(word, (word,), raw=word))
        elif word:
            out.append(Term(word, tuple(word[i : i + 2] for i in range(len(word) - 1)), raw=word))
    return out


def _word_terms(piece: str) -> list[Term]:
    """One run of letters/digits (no separators) -> terms."""
    terms: list[Term] = []
    for part in re.split(f"([{_CJK}]+)", piece):
        if not part:
            continue
        if _CJK_RUN.fullmatch(part):
            terms.extend(_cjk_terms(part))
            continue
        terms.append(Term(part.lower(), (part.lower(),), raw=part))
        for sub in camel_parts(part):
            terms.append(Term(sub.lower(), (sub.lower(),), raw=sub))
    return terms


def _quoted_term(text: str) -> Term | None:
    tokens: list[str] = []
    for piece in QUERY_TOKEN.findall(text):
        for part in re.split(f"([{_CJK}]+)", piece):
            if not part:
                continue
            if _CJK_RUN.fullmatch(part) and len(part) > 1:
                tokens.extend(part[i : i + 2] for i in range(len(part) - 1))
            else:
                tokens.append(part.lower())
    if not tokens:
        return None
    return Term(f'"{text}"', tuple(tokens), quoted=True, raw=text)


def _is_stop(term: Term) -> bool:
    return not term.quoted and (term.label in STOP_WORDS or term.label in PARTICLES)


def parse_terms(query: str) -> list[Term]:
    """Query text -> distinct terms, stop words dropped unless nothing else."""
    found: list[Term] = []
    for quoted, bare in _TERM.findall((query or "").replace("\x00", " ")):
        if quoted:
            term = _quoted_term(quoted.strip())
            found.extend([term] if term else [])
        else:
            for piece in QUERY_TOKEN.findall(bare):
                found.extend(_word_terms(piece))
    kept = [t for t in found if not _is_stop(t)] or found
    out: list[Term] = []
    seen: set[tuple[tuple[str, ...], bool]] = set()
    for term in kept:
        key = (term.tokens, term.quoted)
        if key not in seen:
            seen.add(key)
            out.append(term)
            if len(out) == MAX_TERMS:
                break
    return out

"""Secret redaction: credentials are replaced before a memory is stored.

Pure and without I/O. `redact(text)` returns the text with every credential
replaced by ``[REDACTED:<kind>]`` and the findings (kind and position, never
the secret); `redact_observation(obs)` does that for an Observation's
free-text fields. The rule set lives in core.redact_rules (ADR 0006).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .redact_rules import (  # noqa: F401 - re-exported: the public names of redaction
    KINDS,
    MARKER,
    RULES,
    SCANNED_FIELDS,
    Candidate,
    Finding,
    Rule,
    Spans,
    _overlaps,
)

if TYPE_CHECKING:
    from .models import Observation


# ------------------------------------------------------------- allowlist


class Allowlist:
    """Exact strings and regexes that are never redacted.

    A finding is kept out when its secret equals one of `strings`, or when
    one of `patterns` is found (re.search) in the secret or in the whole
    match around it (e.g. ``DEMO_TOKEN=...``)."""

    __slots__ = ("strings", "patterns")

    def __init__(self, strings: frozenset[str] = frozenset(),
                 patterns: tuple[re.Pattern[str], ...] = ()) -> None:
        self.strings = strings
        self.patterns = patterns

    @classmethod
    def build(cls, strings: Iterable[str] = (), patterns: Iterable[str] = ()) -> Allowlist:
        return cls(frozenset(s for s in strings if s), tuple(re.compile(p) for p in patterns if p))

    def allows(self, secret: str, context: str) -> bool:
        if secret in self.strings:
            return True
        return any(p.search(secret) or p.search(context) for p in self.patterns)

    def __bool__(self) -> bool:
        return bool(self.strings or self.patterns)


# ------------------------------------------------------------------- API


class Redaction:
    """What a save reports: how many secrets of a kind were replaced in a field.
    (Not a NamedTuple: a field named `count` would shadow tuple.count.)"""

    __slots__ = ("kind", "field", "count")

    def __init__(self, kind: str, field: str, count: int) -> None:
        self.kind = kind
        self.field = field
        self.count = count

    def to_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "field": self.field, "count": self.count}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Redaction):
            return NotImplemented
        return (self.kind, self.field, self.count) == (other.kind, other.field, other.count)

    def __hash__(self) -> int:
        return hash((self.kind, self.field, self.count))

    def __repr__(self) -> str:
        return f"Redaction({self.kind!r}, {self.field!r}, {self.count})"


def find_secrets(text: str, allowlist: Allowlist | None = None,
                 rules: Sequence[Rule] = RULES) -> list[Finding]:
    """The secrets in `text`, in order, none overlapping."""
    if len(text) < 8:
        return []
    low = text.lower()
    taken: list[Finding] = []
    for rule in rules:
        if rule.triggers and not any(t in low for t in rule.triggers):
            continue
        for cand in rule.find(text, low, taken):
            if cand.end <= cand.start:
                continue
            if _overlaps(taken, cand.start, cand.end):
                continue
            if text[cand.end:cand.end + 12].lstrip(".:").startswith("[REDACTED:"):
                continue  # the rest of a value already redacted: redacting twice changes nothing
            if allowlist and allowlist.allows(text[cand.start:cand.end],
                                              text[cand.context_start:cand.context_end]):
                continue
            taken.append(Finding(cand.kind, cand.start, cand.end))
    taken.sort(key=lambda f: f.start)
    return taken


def redact(text: str, allowlist: Allowlist | None = None) -> tuple[str, list[Finding]]:
    """Replace every secret in `text` with [REDACTED:<kind>]."""
    findings = find_secrets(text, allowlist)
    if not findings:
        return text, []
    parts: list[str] = []
    pos = 0
    for f in findings:
        parts.append(text[pos:f.start])
        parts.append(MARKER.format(kind=f.kind))
        pos = f.end
    parts.append(text[pos:])
    return "".join(parts), findings


def redact_observation(obs: Observation, allowlist: Allowlist | None = None
                       ) -> tuple[Observation, list[Redaction]]:
    """A copy of `obs` with secrets replaced in its free-text fields, and what
    was replaced: one Redaction per (kind, field), in field order."""
    changes: dict[str, Any] = {}
    report: list[Redaction] = []
    for name in SCANNED_FIELDS:
        value = getattr(obs, name)
        counts: Counter[str] = Counter()
        if isinstance(value, str):
            new, found = redact(value, allowlist)
            if found:
                changes[name] = new
                counts.update(f.kind for f in found)
        else:
            items = []
            for item in value:
                new, found = redact(item, allowlist)
                items.append(new)
                counts.update(f.kind for f in found)
            if counts:
                changes[name] = items
        report.extend(Redaction(kind, name, n) for kind, n in counts.items())
    return (replace(obs, **changes) if changes else obs), report


def describe(redactions: Sequence[Redaction]) -> str:
    """`1 secret (github_token in content)`, `3 secrets (password x2 in content, ...)`."""
    total = sum(r.count for r in redactions)
    parts = [f"{r.kind}{f' x{r.count}' if r.count > 1 else ''} in {r.field}" for r in redactions]
    return f"{total} secret{'s' if total != 1 else ''} ({', '.join(parts)})"

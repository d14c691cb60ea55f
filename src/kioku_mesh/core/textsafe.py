"""Text that is safe to show on a terminal.

Memories and messages arrive from other hosts and other agents: a subject
may carry an escape sequence that clears the screen or sets the window
title, or a bidi override that makes text read differently from what it
is. Everything shown to a person goes through `neutralise`; JSON for
scripts keeps the exact text (escaped the JSON way, see `json_safe`).

A neutralised character becomes its `\\uXXXX` spelling: visible, clearly
not the character itself, and still the same character when the output
is JSON (so a filter over the whole CLI output can never corrupt JSON).
"""

from __future__ import annotations

import re

# C0 controls but tab and newline, DEL, C1 controls (0x9b is a one-byte CSI
# on some terminals), bidi embeddings/overrides/isolates and marks.
_UNSAFE = "\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
UNSAFE_RE = re.compile(f"[{_UNSAFE}]")
_UNSAFE_LINE_RE = re.compile(f"[{_UNSAFE}\t\n]")
# The only sequences kioku-mesh itself writes: SGR colour codes (cli.render.Style).
_OWN_SGR = re.compile(r"\x1b\[(?:0|1|2|33|36)m")


def _spell(m: re.Match[str]) -> str:
    return f"\\u{ord(m.group()):04x}"


def neutralise(text: str) -> str:
    """`text` with every control and bidi character spelled out (tab and newline kept)."""
    return UNSAFE_RE.sub(_spell, text) if UNSAFE_RE.search(text) else text


def one_line(text: str) -> str:
    """Like neutralise, and newlines and tabs too: for a field shown on one line."""
    return _UNSAFE_LINE_RE.sub(_spell, text)


def neutralise_output(text: str) -> str:
    """For a whole output stream: neutralise, but keep kioku-mesh's own colour codes."""
    if not UNSAFE_RE.search(text):
        return text
    parts = _OWN_SGR.split(text)
    codes = _OWN_SGR.findall(text)
    out = [neutralise(parts[0])]
    for code, part in zip(codes, parts[1:], strict=True):
        out += [code, neutralise(part)]
    return "".join(out)


def json_safe(encoded: str) -> str:
    """JSON text (from json.dumps with ensure_ascii=False) with control and bidi
    characters written as \\u escapes: the same JSON value, safe to print."""
    return neutralise(encoded)

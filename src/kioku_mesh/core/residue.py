"""Agent transcript residue: text that is a tool call, not an observation.

An agent that mixes up its output sometimes saves the raw markup of a
function call, or a slice of its chat transcript, as a memory. Such a
memory is noise to every later search, so a save refuses it. Markup a
memory is *about* belongs in a code span or fenced block, and is allowed
there.
"""

from __future__ import annotations

import re

from .errors import ValidationError

_CODE = re.compile(r"```.*?(?:```|\Z)|~~~.*?(?:~~~|\Z)|`[^`\n]+`", re.S)
_MARKERS = re.compile(
    r"<(?:[a-z]+:)?(?:function_calls|invoke\s+name=|parameter\s+name=|function_results)"
    r"|</(?:[a-z]+:)?(?:function_calls|invoke|function_results)>"
    r"|</?tool_call>|</?tool_result>|<\|(?:im_start|im_end|tool_call|eot_id|start_header_id)\|>"
    r"|\{\s*\"type\"\s*:\s*\"(?:tool_use|tool_result|function_call)\""
    r"|\"tool_calls\"\s*:\s*\[\s*\{"
    r"|\"function_call\"\s*:\s*\{\s*\"name\"",
    re.I,
)
_TURNS = re.compile(r"(?:^|\n)\s*Human:\s.*\n\s*Assistant:\s", re.S)


def check_not_residue(name: str, text: str) -> None:
    """ValidationError when `text` carries tool-call markup or transcript turns
    outside code spans."""
    if "<" not in text and "{" not in text and ":" not in text:
        return
    bare = _CODE.sub(" ", text) if "`" in text or "~~~" in text else text
    m = _MARKERS.search(bare)
    if m is None and _TURNS.search(bare) is None:
        return
    found = m.group()[:30] if m else "Human:/Assistant: turns"
    raise ValidationError(
        f"{name} looks like an agent's tool-call markup or transcript, not an observation "
        f"(found {found!r}): save what was learned in plain words; markup the memory is "
        "about goes in a `code span` or ``` block"
    )

"""Output for people (text, markdown, colour when allowed) and scripts (JSON)."""

from __future__ import annotations

import json
import os
import sys
import time
from typing import IO, Any

from ..core.models import Observation
from ..core.textsafe import json_safe, neutralise_output, one_line  # noqa: F401 - one_line for commands
from ..core.timeutil import age


def use_color(stream: IO[str]) -> bool:
    # NO_COLOR convention: any non-empty value turns colour off.
    return stream.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


class Style:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def _wrap(self, code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.enabled else text

    def dim(self, text: str) -> str:
        return self._wrap("2", text)

    def bold(self, text: str) -> str:
        return self._wrap("1", text)

    def accent(self, text: str) -> str:
        return self._wrap("36", text)

    def warn(self, text: str) -> str:
        return self._wrap("33", text)


def dump_json(data: Any, stream: IO[str] | None = None) -> None:
    out = stream or sys.stdout
    out.write(json_safe(json.dumps(data, ensure_ascii=False, indent=2)) + "\n")


class SafeStream:
    """A text stream that neutralises control and bidi characters in all it is
    given (core.textsafe): every line the CLI prints, whatever its source,
    cannot drive the terminal. JSON passes through as the same JSON value."""

    def __init__(self, raw: IO[str]) -> None:
        self.raw = raw

    def write(self, text: str) -> int:
        self.raw.write(neutralise_output(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)


def plural(n: int, one: str, many: str | None = None) -> str:
    """`1 memory`, `2 memories`, `0 memories`."""
    return f"{n} {one if n == 1 else (many or one + 's')}"


def age_of(created_at: str, now: float | None = None) -> str:
    return age(created_at, now)


def ago(created_at: str) -> str:
    when = age_of(created_at)
    return f"{when} ago"


def hit_text(obs: Observation, style: Style, flags: list[str]) -> str:
    head = " ".join(
        [
            style.accent(obs.observation_id[:12]),
            f"{obs.memory_type:<8}",
            f"i{obs.importance}",
            style.dim(age_of(obs.created_at)),
            style.dim(obs.project or "-"),
        ]
    )
    marks = style.warn(" [" + ", ".join(flags) + "]") if flags else ""
    lines = [f"{head}  {style.bold(obs.subject)}{marks}"]
    if obs.summary and obs.summary != obs.subject:
        lines.append(f"    {obs.summary}")
    if obs.tags:
        lines.append(style.dim("    tags: " + ", ".join(obs.tags)))
    return "\n".join(lines)


def hit_markdown(obs: Observation, flags: list[str]) -> str:
    marks = f" _({', '.join(flags)})_" if flags else ""
    meta = f"`{obs.observation_id[:12]}` · {obs.memory_type} · importance {obs.importance}"
    if obs.project:
        meta += f" · {obs.project}"
    meta += f" · {ago(obs.created_at)}"
    lines = [f"### {obs.subject}{marks}", meta, ""]
    if obs.summary:
        lines += [obs.summary, ""]
    if obs.tags:
        lines += ["Tags: " + ", ".join(f"`{t}`" for t in obs.tags), ""]
    return "\n".join(lines)


def full_text(obs: Observation, style: Style, state: list[str]) -> str:
    rows = [
        ("id", obs.observation_id),
        ("subject", obs.subject),
        ("summary", obs.summary),
        ("type", f"{obs.memory_type}  importance {obs.importance}"),
        ("project", obs.project or "-"),
        ("tags", ", ".join(obs.tags) or "-"),
        ("created", f"{obs.created_at} ({ago(obs.created_at)})"),
        ("by", f"{obs.agent_family}/{obs.client_id} pc {obs.pc_id[:8]} session {obs.session_id}"),
        ("scope", f"{obs.visibility}/{obs.scope_id}" if obs.scope_id else obs.visibility or "legacy"),
    ]
    for label, values in (("files", obs.source_files), ("refs", obs.references),
                          ("supersedes", obs.supersedes)):
        if values:
            rows.append((label, ", ".join(values)))
    if obs.expires_at:
        rows.append(("expires", obs.expires_at))
    if state:
        rows.append(("state", "; ".join(state)))
    width = max(len(label) for label, _ in rows)
    head = "\n".join(f"{style.dim(label.ljust(width))}  {value}" for label, value in rows)
    return f"{head}\n\n{obs.content}"


class Progress:
    """A one-line progress bar on stderr, only when stderr is a terminal."""

    def __init__(self, label: str, total: int | None, stream: IO[str] | None = None) -> None:
        # Its own carriage returns are its only control characters: past SafeStream.
        self.stream = getattr(stream or sys.stderr, "raw", stream or sys.stderr)
        self.enabled = self.stream.isatty()
        self.label = label
        self.total = total
        self._last = 0.0

    def update(self, done: int, *, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        if self.total:
            frac = min(1.0, done / self.total)
            bar = "#" * int(frac * 30)
            self.stream.write(f"\r{self.label} [{bar:<30}] {frac:4.0%}")
        else:
            self.stream.write(f"\r{self.label} {done}")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()

"""`kioku-mesh __complete WHAT`: values the completion scripts ask for on
TAB. Hidden, one name a line, and silent on any failure (exit 0): a shell
completing a word should never show an error."""

from __future__ import annotations

import sys


def complete(args: list[str]) -> int:
    try:
        if args[:1] == ["projects"]:
            from ..api.projects import names_for_completion
            from ..core.config import load_settings

            for name in names_for_completion(load_settings(warn=False)):
                sys.stdout.write(name + "\n")
    except Exception:  # noqa: BLE001, S110 - see the module docstring
        pass
    return 0

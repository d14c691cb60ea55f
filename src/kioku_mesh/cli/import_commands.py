"""`import --from FORMAT PATH`: show the plan, then write it on --yes (ADR 0016)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from ..api import Memory
from ..api.importing import SourceImport
from . import render
from .render import dump_json


def _what(new: int, changed: int) -> str:
    parts = []
    if new or not changed:
        parts.append(render.plural(new, "new memory", "new memories"))
    if changed:
        parts.append(render.plural(changed, "new version of a changed memory",
                                   "new versions of changed memories"))
    return " and ".join(parts)


def cmd_import_from(args: argparse.Namespace,
                    confirm: Callable[..., int | None]) -> int:
    from ..api.importing import import_source, write_plan  # noqa: I001

    json_out = bool(getattr(args, "json", False))
    progress = render.Progress("reading", None)

    def show(done: int, total: int) -> None:
        progress.total = total
        progress.update(done)

    with Memory() as mem:
        try:
            plan = import_source(mem, args.source_format, args.file, project=args.project,
                                 allow_secrets=args.allow_secrets, progress=show)
        finally:
            progress.close()
        go = args.yes and not args.dry_run
        if not json_out:
            _report_problems(plan)
            files = render.plural(len(plan.files), "file")
            print(f"{args.source_format}: {files} read, {_what(plan.count('new'), plan.count('changed'))}"
                  f", {plan.unchanged} already imported")
            if plan.planned and not go:
                code = confirm("import", [(p.observation.observation_id, p.observation.subject)
                                          for p in plan.planned],
                               yes=False, dry_run=args.dry_run)
                if code is not None:
                    return code if plan.usable else 1
                go = True
        if go and plan.planned:
            write_plan(mem, plan)
    if json_out:
        dump_json({**plan.to_dict(), "dry_run": not plan.applied})
    elif plan.applied:
        print(f"imported {_what(plan.count('new'), plan.count('changed'))}")
    if plan.redactions and not json_out:
        kinds = ", ".join(f"{k} x{n}" if n > 1 else k for k, n in sorted(plan.redactions.items()))
        verb = "redacted" if plan.applied else "would redact"
        print(f"note: {verb} {render.plural(sum(plan.redactions.values()), 'secret')} ({kinds}) "
              f"in {render.plural(plan.redacted_memories, 'memory', 'memories')}; "
              "import with --allow-secrets to keep them", file=sys.stderr)
    return 0 if plan.usable else 1


def _report_problems(plan: SourceImport) -> None:
    problems = plan.problems
    for where, what in problems[:50]:
        print(f"{where}: {what}", file=sys.stderr)
    if len(problems) > 50:
        print(f"... and {len(problems) - 50} more problems", file=sys.stderr)

"""`kioku-mesh project list|rename`."""

from __future__ import annotations

import argparse
from typing import Any

from .render import dump_json, plural


def add_parsers(sub: Any, common: argparse.ArgumentParser, parser_class: type) -> None:
    p = sub.add_parser("project", help="project names in use; rename a project")
    actions = p.add_subparsers(dest="project_command", metavar="ACTION", required=True,
                               parser_class=parser_class)
    actions.add_parser("list", parents=[common],
                       help="current project names, their memories and old names")
    q = actions.add_parser(
        "rename", parents=[common], help="give a project a new name, on every host",
        description="Search, recall and new saves read OLD as NEW from now on, on this host "
                    "and every peer (the rename replicates). Memories keep the name they were "
                    "saved under, so renaming back (NEW OLD) undoes it.")
    q.add_argument("old", help="the project's current name")
    q.add_argument("new", help="the name it goes by from now on")


def cmd_project(args: argparse.Namespace) -> int:
    from ..api import Memory
    from ..api.projects import list_projects, rename_project

    with Memory() as mem:
        if args.project_command == "rename":
            rename = rename_project(mem, args.old, args.new)
            if args.json:
                dump_json(rename.to_wire())
            else:
                print(f"renamed project {rename.old!r} to {rename.new!r}: search and recall of "
                      f"{rename.new!r} include its memories saved as {rename.old!r}; peers "
                      "follow as the mesh syncs")
            return 0
        projects = list_projects(mem)
    if args.json:
        dump_json(projects)
    elif not projects:
        print("no projects yet")
    for entry in projects if not args.json else []:
        old = entry["old_names"]
        was = f" (was {', '.join(map(repr, old))})" if old else ""  # type: ignore[arg-type]
        name = entry["project"] or "(no project)"
        print(f"{name}: {plural(int(entry['memories']), 'memory', 'memories')}{was}")  # type: ignore[call-overload]
    return 0

"""`kioku-mesh team add|remove|list`: membership for the hub's access control."""

from __future__ import annotations

import argparse
from typing import Any

from .render import dump_json


def add_parsers(sub: Any, common: argparse.ArgumentParser, parser_class: type) -> None:
    p = sub.add_parser("team", help="team membership enforced by the hub (mutual TLS)")
    actions = p.add_subparsers(dest="team_command", metavar="ACTION", required=True,
                               parser_class=parser_class)
    q = actions.add_parser("add", parents=[common], help="add users (cert common names) to a team")
    q.add_argument("team", help="team id")
    q.add_argument("users", nargs="+", help="user ids (certificate common names) to add")
    q = actions.add_parser("remove", parents=[common],
                           help="remove users from a team (no users: remove the team)")
    q.add_argument("team", help="team id")
    q.add_argument("users", nargs="*", help="user ids to remove (none: the whole team)")
    actions.add_parser("list", parents=[common], help="show teams and known users")


def cmd_team(args: argparse.Namespace) -> int:
    from ..api import teams
    from ..core.config import load_settings

    settings = load_settings()
    if args.team_command == "add":
        teams.team_add(settings, args.team, args.users)
    elif args.team_command == "remove":
        teams.team_remove(settings, args.team, args.users)
    acl = teams.load_acl(load_settings())
    if args.json:
        dump_json(acl)
        return 0
    if args.team_command != "list":
        print(f"updated {settings.config_path}; a running hub node applies it within seconds")
    for team, members in sorted(acl["teams"].items()):
        print(f"team {team}: {', '.join(members)}")
    print(f"users: {', '.join(acl['users']) or '(none)'}")
    return 0

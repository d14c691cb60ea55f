"""Entry point: argument parsing and the one place errors become exit codes."""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from collections.abc import Sequence

from .. import __version__
from ..core.errors import KiokuError

PROG = "kioku-mesh"


class UsageError(Exception):
    """Bad command-line usage: one line on stderr, exit 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message} (see --help)")


def _common() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--json", action="store_true", help="machine-readable JSON output")
    return parent


def _formats(p: argparse.ArgumentParser, choices: Sequence[str]) -> None:
    p.add_argument("--format", choices=choices, default=None, help="output format")


def _filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("-p", "--project", help="only this project")
    p.add_argument("--memory-type", action="append", default=[], metavar="TYPE",
                   help="only these types (repeat or comma-separate)")
    p.add_argument("-t", "--tags", help="only memories carrying all these tags (a,b)")
    p.add_argument("--agent-family", help="only memories written by this agent family")
    p.add_argument("--client-id", help="only memories written by this client")
    p.add_argument("--pc-id", help="only memories written on this host")
    p.add_argument("--session-id", help="only memories written in this session")
    p.add_argument("--visibility", "--scope", dest="visibility", action="append", default=[],
                   metavar="TIER", help="only these tiers: mesh, user, team, legacy")
    p.add_argument("--since", help="created at or after (ISO time or age like 7d)")
    p.add_argument("--until", help="created at or before (ISO time or age like 1d)")
    p.add_argument("--include-deleted", "--include-tombstoned", dest="include_tombstoned",
                   action="store_true", help="also show deleted (tombstoned) memories")
    p.add_argument("--include-superseded", action="store_true",
                   help="also show memories replaced by a newer one")
    p.add_argument("--include-expired", action="store_true", help="also show expired memories")
    p.add_argument("--include-hidden", action="store_true",
                   help="all three of the above")


# Kept in step with api.mcp_install.CLIENTS (a test checks): importing it here would slow every start.
MCP_CLIENTS = ("claude-code", "codex", "gemini", "claude-desktop", "cursor")


# Kept in step with api.importers.FORMATS (a test checks), for the same reason.
IMPORT_FORMATS = ("jsonl", "claude-md", "agents-md", "gemini-md", "cursor", "mcp-memory",
                  "mcp-memory-service", "basic-memory")


def _mcp(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("mcp", help="add the MCP server to a coding agent's config, or remove it")
    actions = p.add_subparsers(dest="mcp_command", metavar="ACTION", required=True, parser_class=Parser)
    for action, text in (("install", "add kioku-mesh-mcp to a client's config"),
                         ("uninstall", "remove kioku-mesh-mcp from a client's config")):
        q = actions.add_parser(action, parents=[common], help=text)
        q.add_argument("--client", required=True, choices=MCP_CLIENTS, help="which coding agent")
        q.add_argument("--name", default="kioku-mesh", help="server name in that config (kioku-mesh)")
        q.add_argument("--dry-run", action="store_true", help="print the exact change; write nothing")
        q.add_argument("--no-client-cli", action="store_true",
                       help="edit the file even when the client's own CLI (claude) is on PATH")
        if action == "install":
            q.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                           help="extra environment for the server (repeatable)")
            q.add_argument("--force", action="store_true",
                           help="replace an existing entry of that name that differs")
            q.add_argument("--approve-reads", action="store_true",
                           help="also let the agent call the read-only tools without asking "
                                "(Claude Code, Codex per tool; Gemini: the whole server)")
            q.add_argument("--yes", "-y", action="store_true",
                           help="confirm --approve-reads without a prompt")


def build_parser() -> Parser:
    common = _common()
    parser = Parser(
        prog=PROG,
        description="Shared memory for AI coding agents, across tools and machines.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    p = sub.add_parser("init", parents=[common], help="write the host config (mode local)")
    p.add_argument("--mode", choices=["local", "hub", "spoke"], default="local",
                   help="local (no mesh), hub (always-on, listens) or spoke (dials a hub)")
    p.add_argument("--user-id", help="your user id for the user scope")
    p.add_argument("--team-id", help="your team id for the team scope")
    p.add_argument("--default-visibility", choices=["mesh", "user", "team"],
                   help="who sees new memories by default")
    p.add_argument("--listen", action="append", default=[], metavar="EP",
                   help="hub: endpoint to listen on (repeatable; default tcp/0.0.0.0:7447)")
    p.add_argument("--connect", action="append", default=[], metavar="EP",
                   help="spoke: hub endpoint to dial (repeat for a second hub); "
                        "hub: another hub to link with")
    p.add_argument("--tls", action="store_true",
                   help="mutual TLS on every mesh link (needs `kioku-mesh tls install` first)")
    p.add_argument("--install-service", action="store_true",
                   help="write a systemd user unit for the node (macOS: print a launchd plist)")

    p = sub.add_parser("save", parents=[common], help="save a memory")
    p.add_argument("content", help="the memory text, or - to read it from stdin")
    p.add_argument("--subject", "-s", required=True, help="short title (required)")
    p.add_argument("--summary", help="one or two sentences (derived from content if absent)")
    p.add_argument("-p", "--project", default="", help="project name")
    p.add_argument("-t", "--tags", help="comma-separated tags")
    p.add_argument("--memory-type", "--type", dest="memory_type", default="note",
                   help="note, decision, bug, pattern, config or summary")
    p.add_argument("--importance", "-i", type=int, default=2, help="1 (trivia) to 5 (critical)")
    p.add_argument("--visibility", help="mesh, user or team (default from config: mesh)")
    p.add_argument("--source-files", help="comma-separated repo-relative paths")
    p.add_argument("--references", help='comma-separated references, e.g. "#67,PR#68"')
    p.add_argument("--supersedes", help="comma-separated ids (or 8+ char prefixes) it replaces "
                   "(hidden only if in the same visibility scope)")
    p.add_argument("--ttl", type=int, metavar="SECONDS", help="expire after this many seconds")
    p.add_argument("--expires-at", metavar="ISO", help="expire at this time")
    p.add_argument("--allow-secrets", action="store_true",
                   help="store credentials as given (by default they become [REDACTED:<kind>])")

    p = sub.add_parser("search", parents=[common], help="search memories")
    p.add_argument("query", nargs="?", default="", help="words to look for (optional)")
    _filters(p)
    p.add_argument("-n", "--limit", type=int, default=10, help="show at most N (default 10)")
    p.add_argument("--current-project", metavar="NAME",
                   help="rank this project's memories a little higher (not a filter)")
    p.add_argument("--explain", action="store_true",
                   help="show why each hit ranked where it did (term scores and factors)")
    p.add_argument("--mode", choices=("keyword", "semantic", "hybrid"), default="hybrid",
                   help="hybrid (default): words and meaning fused; keyword: words only; "
                        "semantic: meaning only")
    _formats(p, ["text", "markdown", "json"])

    p = sub.add_parser("get-memory", aliases=["get"], parents=[common], help="show one memory")
    p.add_argument("id", help="full id or a unique prefix of 8+ characters")
    p.add_argument("--include-hidden", action="store_true",
                   help="show it even if deleted, superseded or expired")
    _formats(p, ["text", "markdown", "json"])

    p = sub.add_parser("recall", parents=[common], help="session-start context pack")
    p.add_argument("query", nargs="?", default="", help="optional focus words")
    p.add_argument("-p", "--project",
                   help="only this project (default: `project` in .kioku-mesh.yaml; '' for all)")
    p.add_argument("--memory-type", action="append", default=[], metavar="TYPE",
                   help="only these types (repeat or comma-separate)")
    p.add_argument("-n", "--limit", type=int, default=40, help="candidates to consider")
    p.add_argument("--max-chars", type=int, default=4000, help="size budget of the pack")
    _formats(p, ["text", "markdown", "json"])

    p = sub.add_parser("delete", parents=[common],
                       help="delete (tombstone) memories, here and on every peer",
                       description="Delete one memory by id at once, or many by filters: "
                                   "with filters it lists what it would delete, and deletes "
                                   "only with --yes. Deletes replicate; the rows stay until gc.")
    p.add_argument("id", nargs="?", help="id or unique prefix; or use the bulk filters")
    p.add_argument("--reason", default="", help="why (kept in the tombstone)")
    p.add_argument("-p", "--project", help="bulk: every memory of this project")
    p.add_argument("--pc-id", help="bulk: every memory written on this host (id or unique prefix)")
    p.add_argument("--since", help="bulk: created at or after (ISO time or age like 7d)")
    p.add_argument("--until", help="bulk: created at or before (ISO time or age like 1d)")
    p.add_argument("--dry-run", action="store_true", help="only list what would be deleted")
    p.add_argument("--yes", "-y", action="store_true", help="bulk: really delete them")

    p = sub.add_parser("gc", parents=[common],
                       help="erase old deleted/expired memories, or a host's (irreversible)",
                       description="Lists what it would erase; erases it only with --yes: from "
                                   "this host's store at once and from every peer's as the mesh "
                                   "syncs. Irreversible.")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--retention-days", type=float, metavar="N",
                       help="rows deleted or expired more than N days ago")
    group.add_argument("--by-pc-id", metavar="PC_ID",
                       help="every memory written on that host (id or unique prefix), "
                            "e.g. a decommissioned machine")
    p.add_argument("--yes", "-y", "--execute", dest="execute", action="store_true",
                   help="really remove them (without it: only list)")
    p.add_argument("--dry-run", action="store_true", help="only list (the default)")

    p = sub.add_parser("purge", parents=[common],
                       help="erase one memory for good, here and on every peer (irreversible)",
                       description="Physically erase one memory (e.g. a secret saved by mistake) "
                                   "from this host's store at once, and from every peer's as the "
                                   "mesh syncs. Irreversible: it cannot be restored or re-imported.")
    p.add_argument("id", help="full id or a unique prefix of 8+ characters")

    sub.add_parser("status", parents=[common], help="mode, paths, counts, size")
    sub.add_parser("doctor", parents=[common],
                   help="check this host's set-up and each coding agent's wiring")

    p = sub.add_parser("export", parents=[common], help="write all memories as JSONL")
    p.add_argument("-o", "--output", help="file to write (default stdout)")
    p.add_argument("--no-tombstones", action="store_true", help="leave deletions out")

    p = sub.add_parser("import", parents=[common],
                       help="read memories from a JSONL backup or another tool's files "
                            "(checked and redacted like save)",
                       description="Without --from: a JSONL backup (export's format), imported "
                                   "at once. With --from FORMAT: lists what it would import, "
                                   "and imports only with --yes (on a terminal it asks). "
                                   "Re-importing adds nothing; a changed section becomes a new "
                                   "version. Formats: docs/importers.md.")
    p.add_argument("file", metavar="PATH",
                   help="JSONL file or - for stdin; with --from, that format's file or directory")
    p.add_argument("--from", dest="source_format", choices=IMPORT_FORMATS, default="jsonl",
                   help="what PATH is (default jsonl)")
    p.add_argument("-p", "--project",
                   help="--from: project of the imported memories (default: the repository's "
                        "for instruction files and Cursor rules, none otherwise)")
    p.add_argument("--dry-run", action="store_true", help="--from: only list what it would import")
    p.add_argument("--yes", "-y", action="store_true", help="--from: import without asking")
    p.add_argument("--allow-secrets", action="store_true",
                   help="store credentials as given (by default they become [REDACTED:<kind>])")

    p = sub.add_parser("completion", parents=[common],
                       help="print (or --install) the shell completion script",
                       description="Prints a completion script for bash, zsh or fish: commands, "
                                   "options, memory types and project names. Load it with "
                                   "`source <(kioku-mesh completion bash)` (zsh the same; fish: "
                                   "`kioku-mesh completion fish | source`), or --install it.")
    p.add_argument("shell", choices=["bash", "zsh", "fish"], help="which shell")
    p.add_argument("--install", action="store_true",
                   help="write it where the shell looks for completions and say what else to do")
    _mcp(sub, common)
    from .setup_commands import add_parsers as add_setup_parsers

    add_setup_parsers(sub, common)
    from .mesh_commands import add_parsers as add_mesh_parsers

    add_mesh_parsers(sub, common, Parser)
    from .team_commands import add_parsers as add_team_parsers

    add_team_parsers(sub, common, Parser)
    from .project_commands import add_parsers as add_project_parsers

    add_project_parsers(sub, common, Parser)
    from .msg_commands import add_parsers as add_msg_parsers

    add_msg_parsers(sub, common, Parser)
    from .tls_commands import add_parsers as add_tls_parsers

    add_tls_parsers(sub, common, Parser)
    from .hooks_commands import add_parsers as add_hooks_parsers

    add_hooks_parsers(sub, common, Parser)
    from .ui_commands import add_parsers as add_ui_parsers

    add_ui_parsers(sub, common, Parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["hook"] and not {"-h", "--help"} & set(args_list):
        # A coding agent runs this at every session start: no parser, no output wrapper.
        from .hook_runner import run

        return run(args_list[1:])
    from .render import SafeStream

    if not isinstance(sys.stdout, SafeStream):
        sys.stdout = SafeStream(sys.stdout)  # type: ignore[assignment]
    if not isinstance(sys.stderr, SafeStream):
        sys.stderr = SafeStream(sys.stderr)  # type: ignore[assignment]
    if args_list[:1] == ["__complete"]:
        # Asked by the completion scripts on every TAB: answered before the
        # parser is built, and it never fails loudly (a broken line is no help).
        from .complete_values import complete

        return complete(args_list[1:])
    try:
        parser = build_parser()
        args = parser.parse_args(args_list)
        if not args.command:
            parser.print_help()
            return 2
        from . import commands

        return commands.dispatch(args)
    except UsageError as exc:
        print(f"{exc}", file=sys.stderr)
        return 2
    except KiokuError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except sqlite3.Error as exc:
        print(f"{PROG}: store error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (| head): not an error worth a message.
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        except OSError:
            pass
        return 0
    except OSError as exc:
        # A file or directory the command needed (config, state, an output
        # file): name it and the reason, not "internal error".
        where = f" {exc.filename}" if exc.filename else ""
        print(f"{PROG}: error: cannot use{where}: {exc.strerror or exc} (check the path and "
              "its permissions, or point KIOKU_MESH_CONFIG / KIOKU_MESH_STATE_DIR elsewhere)",
              file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - the last line of defence: no tracebacks
        if os.environ.get("KIOKU_MESH_DEBUG"):
            raise
        print(f"{PROG}: internal error: {type(exc).__name__}: {exc} "
              "(set KIOKU_MESH_DEBUG=1 for details)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

"""Command handlers: turn parsed arguments into library calls and output."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..api import Memory, SearchQuery
from ..api.explain import explanation_dict, explanation_text
from ..core.errors import ValidationError
from . import render
from .mcp_commands import cmd_mcp
from .render import Style, dump_json
from .tls_commands import cmd_tls


def _fmt(args: argparse.Namespace, default: str = "text") -> str:
    if getattr(args, "json", False):
        return "json"
    return getattr(args, "format", None) or default


def _style() -> Style:
    return Style(render.use_color(sys.stdout))


def _read_stdin_text() -> str:
    data = sys.stdin.buffer.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationError("stdin is not valid UTF-8") from None


def _list_arg(values: list[str]) -> list[str]:
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


# ------------------------------------------------------------------ init


def cmd_init(args: argparse.Namespace) -> int:
    from ..core.config import load_settings, read_yaml, write_yaml
    from .mesh_commands import check_mode_args, install_service, mesh_section

    check_mode_args(args)
    settings = load_settings()
    data = read_yaml(settings.config_path)
    data["mode"] = args.mode
    if args.mode == "local":
        data.pop("mesh", None)
    else:
        data["mesh"] = mesh_section(args.mode, args.listen, args.connect, tls=args.tls)
    for key in ("user_id", "team_id", "default_visibility"):
        value = getattr(args, key)
        if value:
            data[key] = value
    write_yaml(settings.config_path, data)
    with Memory() as mem:
        db_path = mem.settings.db_path
        mem.store  # noqa: B018 - creates the store and runs migrations now
        pc_id = mem.identity.pc_id
    service_path, service_text = (install_service(args.mode) if args.install_service
                                  else (None, None))
    result = {"mode": args.mode, "config_path": str(settings.config_path),
              "db_path": str(db_path), "pc_id": pc_id, "mesh": data.get("mesh"),
              "service_path": str(service_path) if service_path else None}
    if _fmt(args) == "json":
        dump_json(result)
        return 0
    print(f"kioku-mesh is set up in {args.mode} mode.")
    print(f"  config: {settings.config_path}")
    print(f"  store:  {db_path}")
    print(f"  host:   pc_id {pc_id}")
    if args.mode != "local":
        mesh = data["mesh"]
        if args.mode == "hub":
            print(f"  listen: {', '.join(mesh['listen'])}")
        if mesh.get("connect"):
            print(f"  dial:   {', '.join(mesh['connect'])}")
        if service_path:
            print(f"  service: {service_path}")
            print("  start it with: systemctl --user daemon-reload && "
                  "systemctl --user enable --now kioku-mesh-node")
        elif service_text:
            print(service_text)
        else:
            print("  run the node with: kioku-mesh node run  (or --install-service)")
    return 0


# ------------------------------------------------------------------ save


def cmd_save(args: argparse.Namespace) -> int:
    content = _read_stdin_text() if args.content == "-" else args.content
    with Memory() as mem:
        result = mem.save(
            content,
            args.subject,
            summary=args.summary,
            project=args.project,
            tags=args.tags,
            memory_type=args.memory_type,
            importance=args.importance,
            visibility=args.visibility,
            source_files=args.source_files,
            references=args.references,
            supersedes=args.supersedes,
            ttl_sec=args.ttl,
            expires_at=args.expires_at,
            allow_secrets=args.allow_secrets,
        )
    obs = result.observation
    if result.redactions:
        from ..core.redact import describe

        print(f"note: redacted {describe(result.redactions)}; "
              "save with --allow-secrets to keep them", file=sys.stderr)
    for value in result.placeholders:
        print(f"note: {value} looks like a documentation placeholder, kept as is",
              file=sys.stderr)
    if _fmt(args) == "json":
        dump_json({"observation_id": obs.observation_id, "scope": result.scope,
                   "observation": obs.to_wire(),
                   "similar": [vars(s) for s in result.similar],
                   "redactions": [r.to_dict() for r in result.redactions],
                   "ignored_supersedes": result.ignored_supersedes,
                   "placeholders_kept": result.placeholders})
    else:
        print(f"saved {obs.observation_id} (visibility={result.scope})")
        for sim in result.similar:
            print(f"note: looks like a near-duplicate of {sim.observation_id[:12]} "
                  f"({sim.subject!r}, similarity {sim.similarity}); if this replaces it, "
                  f"save with --supersedes {sim.observation_id[:12]}", file=sys.stderr)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    return 0


# ---------------------------------------------------------------- search


def _query_from(args: argparse.Namespace) -> SearchQuery:
    from ..api.filters import search_query

    return search_query(
        args.query,
        project=args.project,
        memory_types=args.memory_type,
        tags=args.tags,
        agent_family=args.agent_family,
        client_id=args.client_id,
        pc_id=args.pc_id,
        session_id=args.session_id,
        visibility=args.visibility,
        since=args.since,
        until=args.until,
        include_tombstoned=args.include_tombstoned,
        include_superseded=args.include_superseded,
        include_expired=args.include_expired,
        include_hidden=getattr(args, "include_hidden", False),
        limit=args.limit,
        boost_project=getattr(args, "current_project", None),
        explain=getattr(args, "explain", False),
        mode=getattr(args, "mode", "hybrid"),
    )


def _flags(hit: Any) -> list[str]:
    return [name for name, on in (("deleted", hit.tombstoned), ("superseded", hit.superseded),
                                  ("expired", hit.expired)) if on]


def cmd_search(args: argparse.Namespace) -> int:
    with Memory() as mem:
        result = mem.search(_query_from(args), strict=True)
    fmt = _fmt(args)
    if fmt == "json":
        # An object, not a bare list: how the hits matched is part of the answer.
        dump_json({"match": result.match, "total": result.total,
                   "total_exact": result.total_exact,
                   "hits": [{**h.observation.to_wire(), "explain": explanation_dict(h.explanation)}
                            if h.explanation else h.observation.to_wire() for h in result.hits]})
        return 0
    if not result.hits:
        print("no matching memories")
        return 0
    if result.match == "any":
        print("No memory has every term; ranked by the terms each one has.\n")
    style = _style()
    blocks = []
    for h in result.hits:
        block = (render.hit_markdown(h.observation, _flags(h)) if fmt == "markdown"
                 else render.hit_text(h.observation, style, _flags(h)))
        if h.explanation:
            block += "\n" + style.dim("    why: " + explanation_text(h.explanation))
        blocks.append(block)
    print("\n".join(blocks))
    if result.total > len(result.hits):
        print(style.dim(f"\nshowing {len(result.hits)} of {result.total_text}; use -n for more"))
    return 0


def cmd_get(args: argparse.Namespace) -> int:
    with Memory() as mem:
        view = mem.get(args.id, include_hidden=args.include_hidden)
    obs = view.observation
    state = view.state(12)
    fmt = _fmt(args)
    if fmt == "json":
        out = obs.to_wire()
        if state:
            out = {**out, "_state": view.state()}
        dump_json(out)
    elif fmt == "markdown":
        print(render.hit_markdown(obs, state) + "\n" + obs.content)
    else:
        print(render.full_text(obs, _style(), state))
    return 0


def cmd_recall(args: argparse.Namespace) -> int:
    with Memory() as mem:
        pack = mem.recall(
            args.query, project=args.project, memory_types=_list_arg(args.memory_type),
            limit=args.limit, max_chars=args.max_chars,
        )
    if _fmt(args) == "json":
        dump_json({
            "match": pack.match,
            "included": pack.included,
            "omitted": pack.omitted,
            "groups": {
                project or "": {t: [o.to_wire() for o in items] for t, items in by_type.items()}
                for project, by_type in pack.groups.items()
            },
            "text": pack.text,
            "note": pack.empty_note,
        })
        return 0
    if not pack.included:
        print(pack.empty_note)
        return 0
    if pack.match == "any":
        print("(no memory matched every term; showing those matching any)\n")
    sys.stdout.write(pack.text)
    if pack.omitted:
        print(f"\n({pack.omitted} more not shown: raise --max-chars or -n, or search)")
    return 0


# ---------------------------------------------------------------- delete


def _confirmed(verb: str, items: list[tuple[str, str]], *, yes: bool, dry_run: bool
               ) -> int | None:
    """Every destructive bulk command: with --yes go ahead (None); otherwise show
    what it would do (count, ids and subjects), then ask on a terminal, or say
    how. Returns the exit code when it does not go ahead (1: the user said no)."""
    if yes and not dry_run:
        return None
    asking = not dry_run and bool(items) and sys.stdin.isatty()
    hint = "" if dry_run or asking or not items else " (add --yes to go ahead)"
    print(f"would {verb} {render.plural(len(items), 'memory', 'memories')}{hint}")
    for oid, subject in items[:20]:
        print(f"  {oid[:12]}  {render.one_line(subject)}")
    if len(items) > 20:
        print(f"  ... and {len(items) - 20} more")
    if not asking:
        return 0
    answer = input(f"{verb.capitalize()} {render.plural(len(items), 'memory', 'memories')}? "
                   "[y/N] ").strip().lower()
    if answer in ("y", "yes"):
        return None
    print(f"nothing {verb}d")
    return 1


def cmd_delete(args: argparse.Namespace) -> int:
    bulk = any((args.project, args.pc_id, args.since, args.until))
    if args.id and bulk:
        raise ValidationError("give an id or bulk filters (--project/--pc-id/--since/--until), not both")
    if not args.id and not bulk:
        raise ValidationError("give an id, or --project/--pc-id/--since/--until for a bulk delete")
    json_out = _fmt(args) == "json"
    with Memory() as mem:
        if args.id and not args.dry_run:
            # Naming one id is the explicit act: done at once, as `rm FILE` is.
            tomb = mem.delete(args.id, args.reason)
            if json_out:
                dump_json({"deleted": [tomb.observation_id], "dry_run": False})
            else:
                print(f"deleted {tomb.observation_id}")
            return 0
        if args.id:
            found = [mem.get(args.id).observation]
        else:
            found = mem.select_for_delete(project=args.project, pc_id=args.pc_id,
                                          since=args.since, until=args.until)
        ids = [o.observation_id for o in found]
        if json_out and (args.dry_run or not args.yes):
            dump_json({"deleted": ids, "dry_run": True,
                       "subjects": {o.observation_id: o.subject for o in found}})
            return 0
        code = _confirmed("delete", [(o.observation_id, o.subject) for o in found],
                          yes=args.yes, dry_run=args.dry_run)
        if code is not None:
            return code
        count = mem.delete_many(ids, args.reason or "bulk delete")
    if json_out:
        dump_json({"deleted": ids, "dry_run": False, "count": count})
    else:
        print(f"deleted {render.plural(count, 'memory', 'memories')}")
    return 0


def cmd_gc(args: argparse.Namespace) -> int:
    from ..api.maintenance import gc_by_pc, gc_retention

    json_out = _fmt(args) == "json"
    with Memory() as mem:
        def run(execute: bool) -> Any:
            if args.by_pc_id:
                return gc_by_pc(mem, args.by_pc_id, execute=execute)
            return gc_retention(mem, args.retention_days, execute=execute)

        report = run(False)
        if json_out:
            if args.execute and not args.dry_run:
                report = run(True)
            dump_json({"ids": report.ids, "executed": report.executed})
            return 0
        code = _confirmed("remove", report.items, yes=args.execute, dry_run=args.dry_run)
        if code is not None:
            return code
        report = run(True)
    print(f"removed {render.plural(len(report.ids), 'memory', 'memories')} for good from "
          "this host's store, and from every peer's as the mesh syncs")
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    with Memory() as mem:
        oid = mem.purge(args.id)
    if _fmt(args) == "json":
        dump_json({"purged": oid})
    else:
        print(f"purged {oid}: erased from this host's store for good, and from every peer's "
              "as the mesh syncs (hosts offline now erase it when they reconnect)")
    return 0


# --------------------------------------------------------- import/export


def cmd_export(args: argparse.Namespace) -> int:
    from ..api.transfer import export_lines

    with Memory() as mem:
        out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout  # noqa: SIM115
        count = 0
        try:
            for line in export_lines(mem, include_tombstones=not args.no_tombstones):
                out.write(line + "\n")
                count += 1
        finally:
            if args.output:
                out.close()
    if args.output:
        print(f"exported {count} records to {args.output}", file=sys.stderr)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from ..api.line_parsing import worker_count
    from ..api.transfer import import_lines

    if args.source_format != "jsonl":
        from .import_commands import cmd_import_from

        return cmd_import_from(args, confirm=_confirmed)
    if args.dry_run or args.yes or args.project is not None:
        raise ValidationError("--dry-run, --yes and --project go with --from FORMAT; a JSONL "
                              "backup is imported at once (re-importing it adds nothing)")

    if args.file == "-":
        stream, total = sys.stdin.buffer, None
    else:
        path = Path(args.file)
        try:
            stream, total = open(path, "rb"), path.stat().st_size  # noqa: SIM115
        except OSError as exc:
            raise ValidationError(f"cannot read {args.file}: {exc.strerror}") from None
    progress = render.Progress("importing", total)
    lines_read = [0]

    def counting() -> Any:
        for raw in stream:
            lines_read[0] += len(raw)
            yield raw

    with Memory() as mem:
        try:
            report = import_lines(mem, counting(), progress=lambda _n: progress.update(lines_read[0]),
                                  allow_secrets=args.allow_secrets, workers=worker_count(total))
        finally:
            progress.close()
            if stream is not sys.stdin.buffer:
                stream.close()
    if _fmt(args) == "json":
        dump_json({"added": report.added, "existing": report.existing,
                   "tombstones": report.tombstones,
                   "redactions": report.redactions, "redacted_memories": report.redacted_memories,
                   "errors": [{"line": n, "error": e} for n, e in report.errors]})
    else:
        print(f"imported {render.plural(report.added, 'new memory', 'new memories')}, "
              f"{report.existing} already present, {render.plural(report.tombstones, 'tombstone')}")
        if report.redactions:
            kinds = ", ".join(f"{k} x{n}" if n > 1 else k for k, n in sorted(report.redactions.items()))
            print(f"note: redacted {render.plural(sum(report.redactions.values()), 'secret')} "
                  f"({kinds}) in {render.plural(report.redacted_memories, 'memory', 'memories')}; "
                  "import with --allow-secrets to keep them", file=sys.stderr)
        for number, error in report.errors[:50]:
            print(f"line {number}: {error}", file=sys.stderr)
        if len(report.errors) > 50:
            print(f"... and {len(report.errors) - 50} more bad lines", file=sys.stderr)
    return 1 if report.errors else 0


def _lazy(module: str, func: str) -> Callable[[argparse.Namespace], int]:
    """A handler whose module is imported only when its command runs: those
    modules pull in zenoh, cryptography, mcp or starlette (fast start)."""

    def handler(args: argparse.Namespace) -> int:
        result: int = getattr(importlib.import_module(f"{__package__}.{module}"), func)(args)
        return result

    return handler


HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "init": cmd_init,
    "save": cmd_save,
    "search": cmd_search,
    "get-memory": cmd_get,
    "get": cmd_get,
    "recall": cmd_recall,
    "delete": cmd_delete,
    "gc": cmd_gc,
    "purge": cmd_purge,
    "status": _lazy("status_commands", "cmd_status"),
    "doctor": _lazy("status_commands", "cmd_doctor"),
    "export": cmd_export,
    "import": cmd_import,
    "completion": _lazy("completion", "cmd_completion"),
    "mcp": cmd_mcp,
    "node": _lazy("mesh_commands", "cmd_node"),
    "mesh": _lazy("mesh_commands", "cmd_mesh"),
    "team": _lazy("team_commands", "cmd_team"),
    "msg": _lazy("msg_commands", "cmd_msg"),
    "project": _lazy("project_commands", "cmd_project"),
    "tls": cmd_tls,
    "hooks": _lazy("hooks_commands", "cmd_hooks"),
    "hook": _lazy("hooks_commands", "run_from_args"),
    "ui": _lazy("ui_commands", "cmd_ui"),
    "setup": _lazy("setup_commands", "cmd_setup"),
}


def dispatch(args: argparse.Namespace) -> int:
    return HANDLERS[args.command](args)

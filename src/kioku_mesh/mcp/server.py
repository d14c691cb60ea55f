"""`kioku-mesh-mcp`: the stdio MCP server agents spawn, one per agent session.

Identity (agent, client, host, session, user) never comes from tool
arguments: it comes from env/config, so a model cannot write into another
person's namespace. Stdout carries protocol only: logging goes to stderr,
and the SDK points fd 1 at stderr while it serves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import threading
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field

from .. import __version__
from ..api import Memory, SearchQuery
from ..api.maintenance import status as store_status
from ..api.upkeep import Upkeep
from ..core.errors import KiokuError, NotFoundError, ValidationError
from ..core.textsafe import neutralise, one_line
from ..core.timeutil import parse_when
from . import format as fmt

INSTRUCTIONS = """\
kioku-mesh is shared long-term memory for coding agents: what one agent learns, \
every agent (any tool, any machine) can find later.

When to recall: at the start of a session or task, call recall_context (pass \
project when you know it) before making design decisions; call search_memory \
before debugging an error or changing a convention, in case it is known.

When to save (save_observation), right after it happens:
- a decision and its reason (memory_type=decision);
- a bug's root cause and fix (memory_type=bug);
- a convention or pattern the code follows (memory_type=pattern);
- a config, environment or dependency change (memory_type=config).
Write a specific subject (a title a search will hit), a one-sentence summary, \
the details in content, the project, a few tags and source_files. importance: \
2 normal, 4 important, 5 critical. Do not save secrets, transient chatter or \
what the code already says plainly.

If a memory is outdated, save the corrected one with supersedes=[old id] \
and the old one's visibility (across visibilities it hides nothing) instead \
of repeating it; delete_memory only what is wrong. Search results are \
compact: call get_memory with an id for the full record.

Messages: at session start also call check_messages and ack_message what you \
handled; send_message hands work to another agent (list_agents: who is online).\
"""

log = logging.getLogger("kioku_mesh.mcp")


def _reads(title: str) -> ToolAnnotations:
    # Read-only tools are what Codex `exec` runs without an approval and what
    # `mcp install --approve-reads` pre-approves (api.mcp_install.READ_TOOLS).
    return ToolAnnotations(title=title, read_only_hint=True, destructive_hint=False,
                           idempotent_hint=True, open_world_hint=False)


def _writes(title: str, *, destructive: bool = False, idempotent: bool = False) -> ToolAnnotations:
    # Closed world: the store and our own mesh peers, nothing else on the network.
    return ToolAnnotations(title=title, read_only_hint=False, destructive_hint=destructive,
                           idempotent_hint=idempotent, open_world_hint=False)


def _error_line(text: str) -> str:
    """One line out of an SDK argument-validation error (pydantic prints many)."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if len(lines) >= 3 and "validation error" in lines[0]:
        field, message = lines[1], lines[2].split(" [type=")[0]
        return f"invalid argument {field}: {message}"
    return lines[0] if lines else "error"


class KiokuMCPServer(MCPServer):
    async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
        from .arguments import normalise

        tool = self._tool_manager.get_tool(name)
        if tool is not None:
            try:
                arguments = normalise(name, tool.parameters, arguments)
            except ValidationError as exc:
                raise ToolError(str(exc)) from None
        return await super().call_tool(name, arguments, context)

    async def _handle_call_tool(self, ctx: Any, params: Any) -> Any:  # type: ignore[override]
        result = await super()._handle_call_tool(ctx, params)
        if isinstance(result, CallToolResult) and result.is_error and result.content:
            first = result.content[0]
            if isinstance(first, TextContent):
                result.content = [TextContent(type="text", text=one_line(_error_line(first.text)))]
        return result


def _result(text: str, data: dict[str, Any]) -> CallToolResult:
    # The text may be shown on a terminal (and is all some clients give the
    # model): no control or bidi characters. The structured data stays exact.
    return CallToolResult(content=[TextContent(type="text", text=neutralise(text))],
                          structured_content=data)


def build_server(memory: Memory) -> MCPServer:
    lock = threading.Lock()
    upkeep = Upkeep(memory.store, lock)

    @contextlib.asynccontextmanager
    async def lifespan(_server: Any) -> AsyncIterator[None]:
        task = asyncio.create_task(upkeep.run())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    server = KiokuMCPServer(name="kioku-mesh", version=__version__, instructions=INSTRUCTIONS,
                            log_level="WARNING", lifespan=lifespan)
    # Tools are coroutines that call the store directly: a store call takes about
    # a millisecond, less than the SDK's hop to a worker thread and back costs
    # (measured: save 1.78 -> 1.46 ms in-process). The lock still guards the one
    # connection should the SDK ever run a tool elsewhere, and keeps index
    # upkeep (ADR 0020) between calls.

    def call(fn: Any, *args: Any, **kwargs: Any) -> Any:
        upkeep.request_started()
        with lock:
            try:
                return fn(*args, **kwargs)
            except KiokuError as exc:
                raise ToolError(str(exc)) from None

    def warm_vectors() -> None:
        # Model and vectors loaded (and any memory without a vector embedded)
        # while the client is still starting up, not on its first search.
        try:
            call(memory.sync_vectors)
        except ToolError as exc:
            logging.getLogger(__name__).warning("semantic search unavailable: %s", exc)

    threading.Thread(target=warm_vectors, name="kioku-vectors", daemon=True).start()

    @server.tool(title="Save a memory", annotations=_writes("Save a memory"),
                 description="Save a memory: a decision, root cause, convention or config change.")
    async def save_observation(
        content: Annotated[str, Field(description="The details, in full (markdown is fine).")],
        subject: Annotated[str, Field(description="Short specific title, up to 200 chars.")],
        summary: Annotated[str, Field(description="One or two sentences; derived if empty.")] = "",
        project: Annotated[str, Field(description="Project or repository name.")] = "",
        tags: Annotated[list[str], Field(description="A few keywords.")] = [],  # noqa: B006
        memory_type: Annotated[str, Field(
            description="note, decision, bug, pattern, config or summary.")] = "note",
        importance: Annotated[int, Field(description="1 trivia .. 2 normal .. 5 critical.")] = 2,
        source_files: Annotated[list[str], Field(description="Repo-relative paths.")] = [],  # noqa: B006
        references: Annotated[list[str], Field(description='Issue/PR refs, e.g. "#67".')] = [],  # noqa: B006
        supersedes: Annotated[list[str], Field(
            description="Ids (or 8+ char prefixes) of memories this one replaces.")] = [],  # noqa: B006
        visibility: Annotated[str, Field(
            description="mesh (everyone), user (only you) or team; empty = configured default.")] = "",
        ttl_sec: Annotated[int | None, Field(description="Expire after this many seconds.")] = None,
        expires_at: Annotated[str, Field(description="Expire at this ISO time.")] = "",
        allow_secrets: Annotated[bool, Field(
            description="Store credentials as given. Default false: keys, tokens and passwords "
                        "are replaced by [REDACTED:<kind>]; only set true when asked to.")] = False,
    ) -> CallToolResult:
        res = call(memory.save, content, subject, summary=summary, project=project, tags=tags,
                   memory_type=memory_type, importance=importance, source_files=source_files,
                   references=references, supersedes=supersedes, visibility=visibility or None,
                   ttl_sec=ttl_sec, expires_at=expires_at or None, allow_secrets=allow_secrets)
        oid = res.observation.observation_id
        text = f"saved {oid} (visibility={res.scope})"
        if res.redactions:
            from ..core.redact import describe

            text += (f"\nredacted {describe(res.redactions)}: stored as [REDACTED:<kind>]; "
                     "the secret itself was not saved")
        for value in res.placeholders:
            text += f"\n{value} looks like a documentation placeholder: kept as is"
        for sim in res.similar:
            text += (f"\nnear-duplicate of {sim.observation_id} ({sim.subject!r}, similarity "
                     f"{sim.similarity}): if this replaces it, save with supersedes=[that id] "
                     "and delete nothing")
        for note in res.notes:
            text += f"\n{note}"
        return _result(text, {"observation_id": oid, "scope": res.scope,
                              "similar": [vars(s) for s in res.similar],
                              "redactions": [r.to_dict() for r in res.redactions],
                              "ignored_supersedes": res.ignored_supersedes,
                              "placeholders_kept": res.placeholders})

    @server.tool(title="Search memories", annotations=_reads("Search memories"),
                 description="Search memories by meaning and words (stems, partial words, Japanese) "
                             "and filters. Returns compact hits; use get_memory for the full record.")
    async def search_memory(
        query: Annotated[str, Field(description="Words to look for; empty lists by importance.")] = "",
        project: Annotated[str | None, Field(description="Only this project.")] = None,
        memory_types: Annotated[list[str], Field(description="Only these types.")] = [],  # noqa: B006
        tags: Annotated[list[str], Field(description="Only memories with all these tags.")] = [],  # noqa: B006
        agent_family: Annotated[str | None, Field(description="Only from this agent family.")] = None,
        client_id: Annotated[str | None, Field(description="Only from this client.")] = None,
        pc_id: Annotated[str | None, Field(description="Only from this host.")] = None,
        session_id: Annotated[str | None, Field(description="Only from this session.")] = None,
        visibility: Annotated[list[str], Field(
            description="Only these tiers: mesh, user, team, legacy.")] = [],  # noqa: B006
        since: Annotated[str | None, Field(description="Created since (ISO or 7d, 12h).")] = None,
        until: Annotated[str | None, Field(description="Created until (ISO or 1d).")] = None,
        limit: Annotated[int, Field(description="Max hits (1-100).", ge=1, le=100)] = 10,
        include_superseded: Annotated[bool, Field(description="Also replaced memories.")] = False,
        max_bytes: Annotated[int, Field(description="Cap on the text size.", ge=200)] = fmt.DEFAULT_MAX_BYTES,
        current_project: Annotated[str | None, Field(
            description="Your current project: its memories rank a little higher (not a filter).")] = None,
        explain: Annotated[bool, Field(
            description="Also say why each hit ranked where it did.")] = False,
        mode: Annotated[Literal["hybrid", "keyword", "semantic"], Field(
            description="hybrid (default): words and meaning fused; keyword: words only; "
                        "semantic: meaning only.")] = "hybrid",
    ) -> CallToolResult:
        def run() -> Any:
            q = SearchQuery(
                text=query, project=project, memory_types=memory_types, tags=tags,
                agent_family=agent_family, client_id=client_id, pc_id=pc_id, session_id=session_id,
                visibility=visibility, since=parse_when(since) if since else None,
                until=parse_when(until) if until else None, include_superseded=include_superseded,
                limit=limit, boost_project=current_project, explain=explain, mode=mode,
            )
            return memory.search(q, strict=True)

        result = call(run)
        now = time.time()
        hits = [fmt.hit_summary(h.observation, now) for h in result.hits]
        if explain:
            from ..api.explain import explanation_dict, explanation_text

            for hit, h in zip(hits, result.hits, strict=True):
                if h.explanation:
                    hit["why"] = explanation_text(h.explanation)
                    hit["explain"] = explanation_dict(h.explanation)
        lines, shown = fmt.capped_lines(hits, max_bytes)
        head = f"showing {shown} of {result.total_text}"
        if result.match == "any":
            head += " (no memory matched every term; these match some)"
        if shown < len(hits) or result.total > shown:
            head += "; narrow the query or raise limit/max_bytes for more"
        text = head + ("\n" + "\n".join(lines) if lines else "\nno matching memories")
        return _result(text, {"total": result.total, "total_exact": result.total_exact,
                              "shown": shown, "match": result.match,
                              "hits": hits[:shown]})

    @server.tool(title="Get a memory", annotations=_reads("Get a memory"),
                 description="Get one memory in full by id or unique 8+ char prefix.")
    async def get_memory(
        id: Annotated[str, Field(description="Full id or unique prefix of 8+ hex chars.")],
        include_hidden: Annotated[bool, Field(
            description="Also if deleted, superseded or expired.")] = False,
    ) -> CallToolResult:
        view = call(memory.get, id, include_hidden=include_hidden)
        obs = view.observation
        data = obs.to_wire()
        state = view.state()
        data["state"] = state
        meta = (f"{obs.subject}\nid {obs.observation_id} | {obs.memory_type} i{obs.importance} | "
                f"project {obs.project or '-'} | {obs.created_at} | by {obs.agent_family}/"
                f"{obs.client_id} | scope {obs.visibility or 'legacy'}")
        if obs.summary and obs.summary != obs.subject:
            meta += f"\nsummary: {obs.summary}"
        if obs.tags:
            meta += f"\ntags: {', '.join(obs.tags)}"
        if obs.source_files:
            meta += f"\nfiles: {', '.join(obs.source_files)}"
        if obs.references:
            meta += f"\nreferences: {', '.join(obs.references)}"
        if obs.supersedes:
            meta += f"\nsupersedes: {', '.join(obs.supersedes)}"
        if obs.expires_at:
            meta += f"\nexpires: {obs.expires_at}"
        if state:
            meta += f"\nstate: {'; '.join(state)}"
        return _result(f"{meta}\n\n{obs.content}", data)

    @server.tool(title="Recall context", annotations=_reads("Recall context"),
                 description="Context pack for the start of a session: the most important memories, "
                             "grouped by project and type, within a size budget.")
    async def recall_context(
        query: Annotated[str, Field(description="Optional focus words.")] = "",
        project: Annotated[str | None, Field(description="Only this project.")] = None,
        memory_types: Annotated[list[str], Field(description="Only these types.")] = [],  # noqa: B006
        limit: Annotated[int, Field(description="Candidates to consider.", ge=1, le=200)] = 40,
        max_chars: Annotated[int, Field(description="Size budget of the pack.", ge=200)] = 4000,
    ) -> CallToolResult:
        pack = call(memory.recall, query, project=project, memory_types=memory_types,
                    limit=limit, max_chars=max_chars)
        text = pack.text or pack.empty_note or "no memories yet"
        if pack.omitted:
            text += f"\n({pack.omitted} more not shown; search_memory to dig further)"
        groups = {p: {t: [o.observation_id for o in items] for t, items in by.items()}
                  for p, by in pack.groups.items()}
        return _result(text, {"included": pack.included, "omitted": pack.omitted,
                              "match": pack.match, "groups": groups})

    # Idempotent: deleting a deleted memory returns its existing tombstone.
    @server.tool(title="Delete a memory",
                 annotations=_writes("Delete a memory", destructive=True, idempotent=True),
                 description="Delete a memory (a tombstone that replicates). Prefer supersedes "
                             "when a memory is merely outdated.")
    async def delete_memory(
        id: Annotated[str, Field(description="Full id or unique prefix of 8+ hex chars.")],
        reason: Annotated[str, Field(description="Why it is deleted.")] = "",
    ) -> CallToolResult:
        tomb = call(memory.delete, id, reason)
        return _result(f"deleted {tomb.observation_id} ({tomb.reason})",
                       {"observation_id": tomb.observation_id, "reason": tomb.reason})

    @server.tool(title="Memory store status", annotations=_reads("Memory store status"),
                 description="Store status: mode, counts, identity of this session.")
    async def get_memory_status() -> CallToolResult:
        info = call(store_status, memory)
        c = info["counts"]
        ident = info["identity"]
        text = (f"mode {info['mode']}; {c['live']} live memories ({c['tombstoned']} deleted, "
                f"{c['superseded']} superseded, {c['expired']} expired); you are "
                f"{ident['agent_family']}/{ident['client_id']} session {ident['session_id']}"
                f"\nnew memories default to visibility {ident['default_visibility']}"
                + (f"; user {ident['user_id']}" if ident["user_id"] else "")
                + (f"; team {ident['team_id']}" if ident["team_id"] else "")
                + f"\nstore {info['db_path']}; mesh node "
                + ("running" if info["mesh"].get("node_running") else "not running")
                + (f", {len(info['mesh'].get('peers_online') or [])} peers online"
                   if info["mesh"].get("node_running") else ""))
        if info["saves_7d"]:
            text += "\nsaves in the last 7 days (agent family/project count): " + ", ".join(
                f"{r['agent_family'] or '-'}/{r['project'] or '-'} {r['saves']}"
                for r in info["saves_7d"][:20])
        return _result(text, info)

    @server.resource("kioku://memories/recent", name="recent-memories",
                     description="The 20 most recent memories", mime_type="text/plain")
    async def recent_memories() -> str:
        def run() -> Any:
            rows = memory.store.db.execute(
                "SELECT id FROM observations ORDER BY created_ts DESC LIMIT 60").fetchall()
            out = []
            for row in rows:
                try:
                    out.append(memory.get(row[0]).observation)
                except KiokuError:
                    continue
                if len(out) == 20:
                    break
            return out

        now = time.time()
        items = call(run)
        return "\n".join(fmt.hit_line(fmt.hit_summary(o, now)) for o in items) or "no memories yet"

    @server.resource("kioku://memory/{memory_id}", name="memory",
                     description="One memory by id", mime_type="application/json")
    async def memory_by_id(memory_id: str) -> str:
        # A resource must fail with ResourceError: anything else (ToolError too)
        # is a crash to the SDK, logged with a traceback, its message withheld.
        with lock:
            try:
                return memory.get(memory_id).observation.to_json()
            except (NotFoundError, ValidationError) as exc:
                raise ResourceNotFoundError(str(exc)) from None
            except KiokuError as exc:
                raise ResourceError(str(exc)) from None

    _messaging_tools(server, memory, call)
    return server


def _messaging_tools(server: MCPServer, memory: Memory, call: Any) -> None:
    from ..api.messaging import Messenger

    messenger = Messenger(memory)

    def view(stored: Any) -> dict[str, Any]:
        msg = stored.message
        return {"msg_id": msg.msg_id, "from_agent": msg.sender_agent_id,
                "from_session": msg.sender_session_id, "scope": msg.scope, "body": msg.body,
                "created_at": msg.created_at, "requires_ack": msg.requires_ack,
                "correlation_id": msg.correlation_id,
                "acked_by": [a.recipient_session_id for a in stored.acks]}

    @server.tool(title="Send a message", annotations=_writes("Send a message"),
                 description="Send a message to another agent session or to an agent (all its "
                             "sessions). Use list_agents to find recipients.")
    async def send_message(
        body: Annotated[str, Field(description="The message text (up to 64 KiB).")],
        to_session: Annotated[str, Field(description="Recipient session id.")] = "",
        to_agent: Annotated[str, Field(description="Recipient agent id (its client id, "
                                                   "e.g. codex-cli).")] = "",
        scope: Annotated[str, Field(description="mesh (default), team or user.")] = "mesh",
        requires_ack: Annotated[bool, Field(description="Ask the recipient to ack.")] = False,
        correlation_id: Annotated[str, Field(description="Thread/request id to relate "
                                                         "replies.")] = "",
        ttl_sec: Annotated[int | None, Field(description="Expire after (default 7 days).")] = None,
    ) -> CallToolResult:
        msg = call(messenger.send, body, to_session=to_session or None,
                   to_agent=to_agent or None, scope=scope, requires_ack=requires_ack,
                   correlation_id=correlation_id or None, ttl_sec=ttl_sec)
        return _result(f"sent {msg.msg_id} to {msg.recipient_kind} {msg.recipient_id} "
                       f"(scope {msg.scope})", {"msg_id": msg.msg_id, "scope": msg.scope})

    # Read-only: reading does not mark a message read; ack_message does.
    @server.tool(title="Check messages", annotations=_reads("Check messages"),
                 description="Messages addressed to this session or its agent; unread by default.")
    async def check_messages(
        include_read: Annotated[bool, Field(description="Also acked ones.")] = False,
        scope: Annotated[str, Field(description="Only mesh, team or user; empty = all.")] = "",
        since: Annotated[str, Field(description="Only since (ISO or 2h, 1d).")] = "",
        limit: Annotated[int, Field(description="Max messages.", ge=1, le=200)] = 20,
    ) -> CallToolResult:
        items = call(lambda: messenger.inbox(
            unread_only=not include_read, scope=scope or None,
            since=parse_when(since) if since else None, limit=limit))
        views = [view(s) for s in items]
        lines = [f"{v['msg_id'][:12]} from {v['from_agent']} ({v['from_session']}) "
                 f"[{v['scope']}{', needs ack' if v['requires_ack'] and not v['acked_by'] else ''}]"
                 + (f" (correlation {v['correlation_id']})" if v["correlation_id"] else "")
                 + f": {v['body']}" for v in views]
        text = "\n".join(lines) if lines else "no unread messages"
        return _result(text, {"messages": views, "session_id": messenger.session_id,
                              "agent_id": messenger.agent_id})

    @server.tool(title="Acknowledge a message",
                 annotations=_writes("Acknowledge a message", idempotent=True),
                 description="Acknowledge (mark read) a message addressed to you.")
    async def ack_message(
        msg_id: Annotated[str, Field(description="Message id or 8+ char prefix.")],
    ) -> CallToolResult:
        ack = call(messenger.ack, msg_id)
        return _result(f"acked {ack.msg_id}", ack.to_wire())

    @server.tool(title="List agents", annotations=_reads("List agents"),
                 description="Agent sessions online on this host (with an MCP server running).")
    async def list_agents() -> CallToolResult:
        sessions = call(messenger.who)
        text = "\n".join(f"{s['agent_id']} session {s['session_id']} "
                         f"({'this host' if s.get('host') == 'local' else 'host ' + str(s.get('pc_id'))[:8]})"
                         for s in sessions) or "no agent sessions online"
        return _result(text, {"sessions": sessions, "you": messenger.session_id})

    @server.tool(title="Purge expired messages",
                 annotations=_writes("Purge expired messages", destructive=True, idempotent=True),
                 description="Drop expired messages from the store now.")
    async def purge_expired_messages() -> CallToolResult:
        count = call(messenger.purge_expired)
        return _result(f"purged {count} expired messages", {"purged": count})


def main() -> None:
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING,
                        format="kioku-mesh-mcp: %(levelname)s %(message)s")
    try:
        memory = Memory()
        memory.store  # noqa: B018 - open now: a broken store fails at start, not mid-session
        _ = memory.identity
    except (KiokuError, OSError) as exc:  # OSError: e.g. an unreadable or corrupt pc_id file
        print(f"kioku-mesh-mcp: error: {exc}", file=sys.stderr)
        sys.exit(1)
    from ..store.messages import register_session, unregister_session

    ident = memory.identity
    register_session(memory.store, ident.session_id, ident.client_id, ident.agent_family)
    try:
        build_server(memory).run("stdio")
    except KeyboardInterrupt:
        pass
    finally:
        unregister_session(memory.store, ident.session_id)
        memory.close()


if __name__ == "__main__":
    main()

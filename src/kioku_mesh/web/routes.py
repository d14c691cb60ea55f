"""The dashboard's JSON endpoints: parse the request, call kioku_mesh.api,
return JSON. GET never changes anything; every change is a POST (the gate in
security.py checks its origin and CSRF token before it gets here)."""

from __future__ import annotations

import json
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ..api import Memory
from ..api.errors import KiokuError, ValidationError
from ..api.filters import search_query
from .backend import Backend
from .views import message_view, search_view

MAX_BODY = 256 * 1024
MAX_LIMIT = 200


def _backend(request: Request) -> Backend:
    return request.app.state.backend  # type: ignore[no-any-return]


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "") in ("1", "true", "on", "yes")


def _int(request: Request, name: str, default: int, top: int) -> int:
    text = request.query_params.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ValidationError(f"{name} must be a whole number, not {text!r}") from None
    if not 0 <= value <= top:
        raise ValidationError(f"{name} must be from 0 to {top}")
    return value


def _query(request: Request, *, limit: int = 20) -> Any:
    """The search form's fields -> api.filters.search_query (blank = no filter)."""
    p = request.query_params

    def text(name: str) -> str | None:
        value = p.get(name, "").strip()
        return value or None

    return search_query(
        p.get("q", ""),
        project=text("project"),
        memory_types=p.getlist("type") or None,
        tags=text("tags"),
        agent_family=text("agent"),
        client_id=text("client"),
        pc_id=text("host"),
        session_id=text("session"),
        visibility=p.getlist("scope") or None,
        since=text("since"),
        until=text("until"),
        include_tombstoned=_flag(request, "deleted"),
        include_superseded=_flag(request, "superseded"),
        include_expired=_flag(request, "expired"),
        limit=max(1, _int(request, "limit", limit, MAX_LIMIT)),
        offset=_int(request, "offset", 0, 1_000_000),
        explain=_flag(request, "explain"),
    )


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise ValidationError(f"request body over {MAX_BODY} bytes")
    try:
        data = json.loads(raw or b"{}")
    except ValueError:
        raise ValidationError("request body is not JSON") from None
    if not isinstance(data, dict):
        raise ValidationError("request body must be a JSON object")
    return data


def _opt_text(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValidationError(f"{name} must be text")
    return value


async def search(request: Request) -> Response:
    query = _query(request)

    def run(mem: Memory) -> dict[str, Any]:
        started = time.perf_counter()
        result = mem.search(query)
        return search_view(result, (time.perf_counter() - started) * 1000)

    return JSONResponse(await _backend(request).run(run))


async def memory(request: Request) -> Response:
    from ..api.memory_page import memory_page

    oid = request.path_params["oid"]
    return JSONResponse(await _backend(request).run(lambda mem: memory_page(mem, oid)))


async def consequences(request: Request) -> Response:
    from ..api.propagation import consequences as what

    oid, action = request.path_params["oid"], request.query_params.get("action", "")
    return JSONResponse(await _backend(request).run(lambda mem: what(mem, oid, action)))


async def save(request: Request) -> Response:
    data = await _body(request)
    content, subject = data.get("content"), data.get("subject")
    if not isinstance(content, str) or not content.strip():
        raise ValidationError("content must not be empty")
    if not isinstance(subject, str) or not subject.strip():
        raise ValidationError("subject must not be empty")
    importance = data.get("importance", 2)
    if isinstance(importance, str) and importance.strip().isdigit():
        importance = int(importance)

    def run(mem: Memory) -> dict[str, Any]:
        result = mem.save(
            content, subject, summary=_opt_text(data, "summary"),
            project=_opt_text(data, "project") or "", tags=_opt_text(data, "tags"),
            memory_type=_opt_text(data, "memory_type") or "note", importance=importance,
            visibility=_opt_text(data, "visibility"), supersedes=_opt_text(data, "supersedes"),
        )
        return {"observation_id": result.observation.observation_id, "scope": result.scope,
                "similar": [vars(s) for s in result.similar],
                "redactions": [r.to_dict() for r in result.redactions], "notes": result.notes}

    return JSONResponse(await _backend(request).run(run), status_code=201)


async def delete(request: Request) -> Response:
    data = await _body(request)
    oid, reason = request.path_params["oid"], _opt_text(data, "reason") or ""
    tomb = await _backend(request).run(lambda mem: mem.delete(oid, reason))
    return JSONResponse({"deleted": tomb.observation_id, "deleted_at": tomb.deleted_at})


async def purge(request: Request) -> Response:
    data = await _body(request)
    oid = request.path_params["oid"]
    if data.get("confirm") != oid:
        raise ValidationError("purge needs confirm: the memory's id (it cannot be undone)")
    return JSONResponse({"purged": await _backend(request).run(lambda mem: mem.purge(oid))})


async def export(request: Request) -> Response:
    from ..api.transfer import export_matching

    query = _query(request)
    lines = await _backend(request).run(lambda mem: list(export_matching(mem, query)))
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    return StreamingResponse(iter([line + "\n" for line in lines]),
                             media_type="application/x-ndjson",
                             headers={"content-disposition":
                                      f'attachment; filename="kioku-export-{stamp}.jsonl"'})


async def messages(request: Request) -> Response:
    from ..api.messaging import Messenger

    def run(mem: Memory) -> dict[str, Any]:
        m = Messenger(mem)
        return {"agent_id": m.agent_id, "session_id": m.session_id,
                "inbox": [message_view(s) for s in m.inbox(unread_only=False, limit=100)],
                "sent": [message_view(s) for s in m.status(limit=100)],
                "who": m.who(), "queued_note": m.queued_note()}

    return JSONResponse(await _backend(request).run(run))


async def send_message(request: Request) -> Response:
    from ..api.messaging import Messenger

    data = await _body(request)
    body = data.get("body")
    ttl = data.get("ttl_sec")

    def run(mem: Memory) -> dict[str, Any]:
        msg = Messenger(mem).send(
            body if isinstance(body, str) else "", to_session=_opt_text(data, "to_session"),
            to_agent=_opt_text(data, "to_agent"), scope=_opt_text(data, "scope"),
            requires_ack=bool(data.get("requires_ack")),
            ttl_sec=ttl if isinstance(ttl, int) and not isinstance(ttl, bool) else None)
        return msg.to_wire()

    return JSONResponse(await _backend(request).run(run), status_code=201)


async def ack_message(request: Request) -> Response:
    from ..api.messaging import Messenger

    mid = request.path_params["mid"]
    ack = await _backend(request).run(lambda mem: Messenger(mem).ack(mid))
    return JSONResponse(ack.to_wire())


async def mesh(request: Request) -> Response:
    from ..api.mesh_view import overview

    return JSONResponse(await _backend(request).run(overview))


async def activity(request: Request) -> Response:
    from ..api.activity import activity as stats

    days = _int(request, "days", 30, 366)
    return JSONResponse(await _backend(request).run(lambda mem: stats(mem, days or 30)))


async def kioku_error(request: Request, exc: Exception) -> Response:
    from ..api.errors import NotFoundError

    status = 404 if isinstance(exc, NotFoundError) else 400
    return JSONResponse({"error": str(exc)}, status_code=status)


ROUTES = [
    Route("/api/search", search),
    Route("/api/export", export),
    Route("/api/memories", save, methods=["POST"]),
    Route("/api/memory/{oid}", memory),
    Route("/api/memory/{oid}/consequences", consequences),
    Route("/api/memory/{oid}/delete", delete, methods=["POST"]),
    Route("/api/memory/{oid}/purge", purge, methods=["POST"]),
    Route("/api/messages", messages),
    Route("/api/messages", send_message, methods=["POST"]),
    Route("/api/messages/{mid}/ack", ack_message, methods=["POST"]),
    Route("/api/mesh", mesh),
    Route("/api/activity", activity),
]
ERRORS = {KiokuError: kioku_error}

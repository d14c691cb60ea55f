"""Live updates as server-sent events: the server polls the store's change
mark once a second (two tiny reads) and tells each open page what kind of
thing changed; the page then fetches what it shows again."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from functools import partial

import anyio
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from ..api import Memory, changes
from .backend import Backend

POLL_S = 1.0
HEARTBEAT_S = 15.0


def _moved(mem: Memory, *, before: changes.Mark, after: changes.Mark) -> dict[str, int]:
    return changes.since(mem, before, after)


async def _stream(request: Request, backend: Backend, poll_s: float) -> AsyncIterator[str]:
    before = await backend.run(changes.mark)
    yield "retry: 2000\nevent: hello\ndata: {}\n\n"
    quiet = 0.0
    while not await request.is_disconnected():
        await anyio.sleep(poll_s)
        after = await backend.run(changes.mark)
        if after != before:
            moved = await backend.run(partial(_moved, before=before, after=after))
            before = after
            for kind, count in moved.items():
                yield f"event: {kind}\ndata: {json.dumps({'count': count})}\n\n"
            quiet = 0.0
            continue
        quiet += poll_s
        if quiet >= HEARTBEAT_S:  # a comment: keeps proxies and the browser from giving up
            quiet = 0.0
            yield ": still here\n\n"


async def events(request: Request) -> Response:
    backend: Backend = request.app.state.backend
    poll_s: float = getattr(request.app.state, "poll_s", POLL_S)
    return StreamingResponse(_stream(request, backend, poll_s), media_type="text/event-stream",
                             headers={"x-accel-buffering": "no"})

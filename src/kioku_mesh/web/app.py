"""The dashboard as an ASGI app: the gate (security.py) in front of the
page, its static files and the JSON endpoints (routes.py, events.py)."""

from __future__ import annotations

from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..api import Memory
from .backend import Backend
from .events import events
from .routes import ERRORS, ROUTES
from .security import Gate, GateMiddleware

STATIC = resources.files(__package__) / "static"


def _index_html(gate: Gate) -> str:
    page = (STATIC / "index.html").read_text(encoding="utf-8")
    # The CSRF token in a meta tag: only same-origin script can read the page.
    return page.replace("{{csrf}}", gate.csrf)


def build_app(gate: Gate, memory: Memory | None = None, *, poll_s: float = 1.0) -> Any:
    page = _index_html(gate)

    async def index(request: Request) -> Response:
        return HTMLResponse(page)

    app = Starlette(
        routes=[Route("/", index), Route("/api/events", events), *ROUTES,
                Mount("/static", app=StaticFiles(directory=str(STATIC)), name="static")],
        exception_handlers=ERRORS,  # type: ignore[arg-type]
    )
    app.state.backend = Backend(memory or Memory())
    app.state.poll_s = poll_s
    return GateMiddleware(app, gate)

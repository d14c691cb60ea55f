"""The dashboard's gate: every request passes here before any route.

Checks, in order (ADR 0023):
1. Host header is one of this server's own names (DNS rebinding: a page on
   evil.example resolving to 127.0.0.1 sends Host: evil.example).
2. The launch token: the URL printed at start carries it once (?token=...);
   it is swapped for an HttpOnly SameSite=Strict cookie and a redirect that
   drops it from the address bar; every other request needs that cookie.
3. A state change is a POST, same-origin (Origin and Sec-Fetch-Site when the
   browser sends them), JSON, with the CSRF token the page carries in a
   meta tag (a cross-site form can neither set the header nor read the page).
Every answer carries a strict Content-Security-Policy and friends.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlencode

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'")
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
]
SAFE_METHODS = ("GET", "HEAD")
CSRF_HEADER = "x-kioku-csrf"


@dataclass
class Gate:
    """One launch's secrets and the names this server answers to."""

    port: int
    host: str = "127.0.0.1"
    token: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    @property
    def csrf(self) -> str:
        return hmac.new(self.token.encode(), b"csrf", hashlib.sha256).hexdigest()

    @property
    def cookie_name(self) -> str:
        # Cookies are not separated by port: two dashboards must not clobber each other's.
        return f"kioku_ui_{self.port}"

    @property
    def allowed_hosts(self) -> set[str]:
        names = {"127.0.0.1", "localhost", "[::1]"}
        if self.host not in ("127.0.0.1", "localhost", "::1"):
            names.add(f"[{self.host}]" if ":" in self.host else self.host)
        return {f"{n}:{self.port}" for n in names}

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        if host in ("0.0.0.0", "[::]"):
            host = "127.0.0.1"
        return f"http://{host}:{self.port}/?{urlencode({'token': self.token})}"

    def token_ok(self, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(given.encode(), self.token.encode())  # type: ignore[union-attr]


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or []:
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def _refuse(send: Send, status: int, text: str) -> None:
    body = (text + "\n").encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()), *HEADERS]})
    await send({"type": "http.response.body", "body": body})


class GateMiddleware:
    def __init__(self, app: ASGIApp, gate: Gate) -> None:
        self.app = app
        self.gate = gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                await self.app(scope, receive, send)
            return  # no websockets
        gate = self.gate
        host = (_header(scope, b"host") or "").lower()
        if host not in gate.allowed_hosts:
            await _refuse(send, 421, "unknown Host header: this dashboard answers only to its own "
                          "address (DNS rebinding protection)")
            return
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        if "token" in query and scope["method"] in SAFE_METHODS:
            if not gate.token_ok(query["token"]):
                await _refuse(send, 403, "wrong token: open the URL `kioku-mesh ui` printed "
                              "at its start (each launch has its own)")
                return
            await self._enter(scope, send, query)
            return
        cookies = SimpleCookie()
        try:
            cookies.load(_header(scope, b"cookie") or "")
        except Exception:  # noqa: BLE001 - a malformed cookie header is just no cookie
            cookies = SimpleCookie()
        morsel = cookies.get(gate.cookie_name)
        if not gate.token_ok(morsel.value if morsel else None):
            await _refuse(send, 401, "no valid token: open the URL `kioku-mesh ui` printed at "
                          "its start (each launch has its own)")
            return
        if scope["method"] not in SAFE_METHODS:
            problem = self._csrf_problem(scope)
            if problem:
                await _refuse(send, 403, problem)
                return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _enter(self, scope: Scope, send: Send, query: dict[str, str]) -> None:
        """Token in the URL: set the cookie, and redirect to the same page without it."""
        rest = urlencode({k: v for k, v in query.items() if k != "token"})
        location = scope.get("path", "/") + (f"?{rest}" if rest else "")
        cookie = (f"{self.gate.cookie_name}={self.gate.token}; HttpOnly; SameSite=Strict; "
                  "Path=/")
        await send({"type": "http.response.start", "status": 303,
                    "headers": [(b"location", location.encode()),
                                (b"set-cookie", cookie.encode()),
                                (b"content-length", b"0"), *HEADERS]})
        await send({"type": "http.response.body", "body": b""})

    def _csrf_problem(self, scope: Scope) -> str | None:
        gate = self.gate
        if scope["method"] != "POST":
            return "only GET and POST are served"
        origin = _header(scope, b"origin")
        if origin is not None and origin.removeprefix("http://").lower() not in gate.allowed_hosts:
            return "cross-origin request refused"
        site = _header(scope, b"sec-fetch-site")
        if site is not None and site not in ("same-origin", "none"):
            return "cross-site request refused"
        ctype = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
        if ctype != "application/json":
            return "a change must be sent as application/json"
        given = _header(scope, CSRF_HEADER.encode()) or ""
        if not hmac.compare_digest(given.encode(), gate.csrf.encode()):
            return "missing or wrong CSRF token: reload the page"
        return None

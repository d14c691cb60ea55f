"""`kioku-mesh ui`: bind, print the launch URL, open the browser, serve.

Binds 127.0.0.1 unless told otherwise; another address needs `allow_remote`
and gets a warning (the token then crosses the network in clear: plain HTTP).
"""

from __future__ import annotations

import socket
import sys
import threading
import webbrowser
from typing import Any, TextIO

from ..api.errors import ValidationError

LOOPBACK = ("127.0.0.1", "::1", "localhost")


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ValidationError(f"cannot listen on {host}:{port}: {exc.strerror or exc} "
                              "(another --port, or --port 0 for any free one)") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _no_delay_protocol() -> type:
    """uvicorn's HTTP/1.1 protocol with TCP_NODELAY on each connection. Without
    it a kept-alive connection's every answer after the first waits ~40 ms
    (the response goes out in two writes: Nagle meets the browser's delayed
    ACK), which alone put a page's eight files past the 300 ms target."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class NoDelayH11(H11Protocol):
        def connection_made(self, transport: Any) -> None:
            sock = transport.get_extra_info("socket")
            if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            super().connection_made(transport)

    return NoDelayH11


def serve(host: str = "127.0.0.1", port: int = 8765, *, open_browser: bool = True,
          allow_remote: bool = False, out: TextIO | None = None, err: TextIO | None = None) -> int:
    import uvicorn

    from .app import build_app
    from .security import Gate

    out, err = out or sys.stdout, err or sys.stderr
    if host == "localhost":
        host = "127.0.0.1"
    if host not in LOOPBACK and not allow_remote:
        raise ValidationError(f"--host {host} is not this machine's loopback: anyone who can "
                              "reach it could try the dashboard; add --allow-remote if you mean it")
    if not 0 <= port <= 65535:
        raise ValidationError(f"--port must be from 0 to 65535, not {port}")
    sock = bind(host, port)
    gate = Gate(port=sock.getsockname()[1], host=host)
    if host not in LOOPBACK:
        print(f"kioku-mesh: warning: the dashboard listens on {host}, not only this machine: "
              "plain HTTP, so the token and every memory cross the network unencrypted",
              file=err, flush=True)
    print(f"kioku-mesh dashboard: {gate.url}", file=out, flush=True)
    print("  (the token in this URL is this launch's key; Ctrl-C to stop)", file=err, flush=True)
    config = uvicorn.Config(build_app(gate), log_level="warning", access_log=False,
                            server_header=False, lifespan="off", timeout_graceful_shutdown=2,
                            http=_no_delay_protocol())
    server = uvicorn.Server(config)
    if open_browser:
        threading.Timer(0.5, webbrowser.open, args=(gate.url,)).start()
    server.run(sockets=[sock])
    return 0

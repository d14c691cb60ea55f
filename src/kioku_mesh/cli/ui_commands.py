"""`kioku-mesh ui`: the local web dashboard (starlette and uvicorn load only here)."""

from __future__ import annotations

import argparse
from typing import Any


def add_parsers(sub: Any, common: argparse.ArgumentParser, parser_class: type) -> None:
    p = sub.add_parser("ui", help="open the local web dashboard (memories, messages, mesh)",
                       description="Serve the dashboard on 127.0.0.1 and open it in the browser. "
                                   "The printed URL carries this launch's token.")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765; 0: any free one)")
    p.add_argument("--no-browser", action="store_true", help="print the URL, do not open a browser")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; another needs --allow-remote)")
    p.add_argument("--allow-remote", action="store_true",
                   help="allow a --host other than loopback (plain HTTP: read the warning)")


def cmd_ui(args: argparse.Namespace) -> int:
    # The one import of the web adapter from the CLI (tests/test_architecture.py allows it).
    from ..web.server import serve

    return serve(args.host, args.port, open_browser=not args.no_browser,
                 allow_remote=args.allow_remote)

"""The dashboard as a real server process (`kioku-mesh ui`) and plain HTTP
requests to it (not a test module)."""

from __future__ import annotations

import http.client
import json
import queue
import re
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

CLI = [sys.executable, "-m", "kioku_mesh.cli.main"]
URL_LINE = re.compile(r"kioku-mesh dashboard: (http://\S+)")


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class UiServer:
    env: dict[str, str]
    cwd: Path
    args: tuple[str, ...] = ()
    proc: subprocess.Popen[bytes] | None = None
    url: str = ""
    stderr_lines: list[str] = field(default_factory=list)

    def start(self, timeout: float = 30) -> UiServer:
        self.proc = subprocess.Popen([*CLI, "ui", "--no-browser", "--port", "0", *self.args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=self.env, cwd=str(self.cwd))
        lines: queue.Queue[str] = queue.Queue()
        assert self.proc.stdout is not None and self.proc.stderr is not None

        def pump(stream: Any, sink: list[str] | None) -> None:
            for raw in stream:
                text = raw.decode("utf-8", "replace")
                lines.put(text)
                if sink is not None:
                    sink.append(text)

        threading.Thread(target=pump, args=(self.proc.stdout, None), daemon=True).start()
        threading.Thread(target=pump, args=(self.proc.stderr, self.stderr_lines),
                         daemon=True).start()
        while True:
            try:
                line = lines.get(timeout=timeout)
            except queue.Empty:
                self.stop()
                raise AssertionError(f"no URL from kioku-mesh ui: {self.stderr_lines}") from None
            found = URL_LINE.search(line)
            if found:
                self.url = found.group(1)
                return self

    @property
    def port(self) -> int:
        return int(urlsplit(self.url).port or 0)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def token(self) -> str:
        return self.url.split("token=", 1)[1]

    @property
    def cookie(self) -> str:
        return f"kioku_ui_{self.port}={self.token}"

    def request(self, method: str, path: str, *, body: Any = None, headers: dict[str, str] | None
                = None, auth: bool = True, host: str | None = None, timeout: float = 30) -> Reply:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        sent = {"Host": host or f"127.0.0.1:{self.port}"}
        if auth:
            sent["Cookie"] = self.cookie
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        sent.update(headers or {})
        try:
            conn.request(method, path, body=data, headers=sent)
            resp = conn.getresponse()
            return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
        finally:
            conn.close()

    def csrf(self) -> str:
        page = self.request("GET", "/").body.decode()
        found = re.search(r'name="kioku-csrf" content="([0-9a-f]+)"', page)
        assert found, page[:300]
        return found.group(1)

    def post(self, path: str, body: Any, **kw: Any) -> Reply:
        headers = {"X-Kioku-CSRF": self.csrf(), "Origin": self.base, **kw.pop("headers", {})}
        return self.request("POST", path, body=body, headers=headers, **kw)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

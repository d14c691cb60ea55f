"""The dashboard server as a real process, over plain HTTP: its gate (token,
cookie, Host, CSRF, CSP), its JSON endpoints against the CLI's view of the
same store, and live updates (server-sent events). See ADR 0023."""

from __future__ import annotations

import http.client
import json
import re
import subprocess
import time

import pytest
from cli_helpers import assert_one_line_error, save_id, search_ids
from conftest import make_env
from web_helpers import UiServer


@pytest.fixture(scope="module")
def km_ui(tmp_path_factory):
    km = make_env(tmp_path_factory.mktemp("web"))
    for i in range(3):
        save_id(km, f"alpha fact {i} about caching", f"Alpha cache {i}", "-p", "alpha")
    save_id(km, "beta fact about caching", "Beta cache", "-p", "beta", "-t", "x")
    server = UiServer(km.env, km.home).start()
    yield km, server
    server.stop()


def test_url_is_loopback_and_a_request_without_the_token_is_refused(km_ui):
    km, ui = km_ui
    assert ui.url.startswith("http://127.0.0.1:") and len(ui.token) >= 40
    for path in ("/", "/api/search?q=cache", "/static/app.js", "/api/events"):
        reply = ui.request("GET", path, auth=False)
        assert reply.status == 401, path
        assert b"cache" not in reply.body and b"open the URL" in reply.body
    wrong = ui.request("GET", "/?token=" + "x" * 43, auth=False)
    assert wrong.status == 403 and "set-cookie" not in wrong.headers
    forged = ui.request("GET", "/api/search", auth=False,
                        headers={"Cookie": f"kioku_ui_{ui.port}={'y' * 43}"})
    assert forged.status == 401


def test_the_token_url_becomes_a_strict_httponly_cookie(km_ui):
    _, ui = km_ui
    reply = ui.request("GET", f"/?token={ui.token}", auth=False)
    assert reply.status == 303 and reply.headers["location"] == "/"  # token gone from the URL
    cookie = reply.headers["set-cookie"]
    assert cookie.startswith(f"kioku_ui_{ui.port}={ui.token};")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie


def test_a_forged_host_header_is_refused(km_ui):
    _, ui = km_ui
    for host in ("evil.example", f"evil.example:{ui.port}", f"127.0.0.1.nip.io:{ui.port}",
                 f"127.0.0.1:{ui.port + 1}"):
        reply = ui.request("GET", "/api/search?q=cache", host=host)
        assert reply.status == 421, host
        assert b"Alpha" not in reply.body
    assert ui.request("GET", "/api/search?q=cache", host=f"localhost:{ui.port}").status == 200


def test_pages_carry_a_strict_csp_and_no_inline_script(km_ui):
    _, ui = km_ui
    reply = ui.request("GET", "/")
    assert reply.status == 200
    csp = reply.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "http" not in csp
    assert reply.headers["x-frame-options"] == "DENY"
    assert reply.headers["x-content-type-options"] == "nosniff"
    page = reply.body.decode()
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, re.S)
    assert scripts and all('src="/static/' in attrs and not body.strip() for attrs, body in scripts)
    assert not re.search(r"\son[a-z]+=", page)  # no inline event handlers
    assert not re.search(r"(src|href)=\"(https?:)?//", page)  # nothing from elsewhere
    for name in ("app.js", "dom.js", "memories.js", "messages.js", "mesh.js", "activity.js"):
        js = ui.request("GET", f"/static/{name}").body.decode()
        assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(", js), name
        assert "http://" not in js.replace("http://www.w3.org/2000/svg", "") and "https://" not in js


def test_a_change_needs_post_csrf_and_same_origin(km_ui):
    km, ui = km_ui
    body = {"subject": "Forged", "content": "forged content"}
    csrf = ui.csrf()
    cases = {
        "no csrf": ui.request("POST", "/api/memories", body=body),
        "wrong csrf": ui.request("POST", "/api/memories", body=body,
                                 headers={"X-Kioku-CSRF": "0" * 64}),
        "cross origin": ui.request("POST", "/api/memories", body=body, headers={
            "X-Kioku-CSRF": csrf, "Origin": "http://evil.example"}),
        "cross site": ui.request("POST", "/api/memories", body=body, headers={
            "X-Kioku-CSRF": csrf, "Sec-Fetch-Site": "cross-site"}),
        "form post": ui.request("POST", "/api/memories", body=body, headers={
            "X-Kioku-CSRF": csrf, "Content-Type": "text/plain"}),
    }
    assert {name: r.status for name, r in cases.items()} == dict.fromkeys(cases, 403)
    oid = search_ids(km, "Alpha", "-p", "alpha")[0]
    assert ui.request("GET", f"/api/memory/{oid}/delete").status == 405
    assert ui.request("PUT", f"/api/memory/{oid}/delete", body={}).status == 403
    assert search_ids(km, "forged") == [] and oid in search_ids(km, "Alpha", "-p", "alpha")


def test_save_search_delete_and_purge_through_the_api(km_ui):
    km, ui = km_ui
    saved = ui.post("/api/memories", {"subject": "Dashboard saved this", "content": "zebra stripes",
                                      "project": "web", "tags": "a,b", "memory_type": "decision",
                                      "importance": "4"})
    assert saved.status == 201, saved.body
    oid = saved.json()["observation_id"]
    got = json.loads(km.run("get", oid, "--json", check=True).stdout)
    assert (got["project"], got["tags"], got["memory_type"], got["importance"]) == (
        "web", ["a", "b"], "decision", 4)
    found = ui.request("GET", "/api/search?q=zebra&project=web&type=decision&explain=1").json()
    assert [h["observation"]["observation_id"] for h in found["hits"]] == [oid]
    assert found["hits"][0]["explain"]["terms"] == {"zebra": pytest.approx(
        found["hits"][0]["explain"]["relevance"])} and found["hits"][0]["why"].startswith("score")
    told = ui.request("GET", f"/api/memory/{oid}/consequences?action=delete").json()
    assert "local mode" in told["elsewhere"]
    assert ui.post(f"/api/memory/{oid}/delete", {"reason": "from the web"}).status == 200
    assert search_ids(km, "zebra") == []
    hidden = ui.request("GET", "/api/search?q=zebra&deleted=1").json()["hits"]
    assert hidden[0]["flags"] == ["deleted"]
    refused = ui.post(f"/api/memory/{oid}/purge", {})
    assert refused.status == 400 and "confirm" in refused.json()["error"]
    assert ui.post(f"/api/memory/{oid}/purge", {"confirm": oid}).json() == {"purged": oid}
    assert km.run("get", oid, "--include-hidden").returncode != 0


def test_bad_input_is_a_clear_error_not_a_crash(km_ui):
    _, ui = km_ui
    for path, words in (("/api/search?since=last+tuesday", "invalid time"),
                        ("/api/search?type=essay", "invalid memory_type"),
                        ("/api/search?limit=many", "whole number"),
                        ("/api/memory/zz", "id"),
                        ("/api/activity?days=9999", "days")):
        reply = ui.request("GET", path)
        assert reply.status in (400, 404), path
        error = reply.json()["error"]
        assert words in error and "\n" not in error and "Traceback" not in error, path
    bad_json = ui.request("POST", "/api/memories", headers={
        "X-Kioku-CSRF": ui.csrf(), "Content-Type": "application/json"})
    assert bad_json.status == 400
    empty = ui.post("/api/memories", {"subject": "", "content": "x"})
    assert empty.status == 400 and "subject" in empty.json()["error"]


def test_export_of_a_filtered_set_reads_back_with_import(km_ui, make_km):
    km, ui = km_ui
    reply = ui.request("GET", "/api/export?project=alpha")
    assert reply.status == 200 and "attachment" in reply.headers["content-disposition"]
    lines = reply.body.decode().splitlines()
    assert sorted(json.loads(line)["observation_id"] for line in lines) == sorted(
        search_ids(km, "-p", "alpha", "-n", "100"))
    other = make_km()
    other.run("import", "-", input=reply.body.decode(), check=True)
    assert len(search_ids(other, "-n", "100")) == len(lines) == 3


def _next_event(stream: http.client.HTTPResponse, deadline: float) -> str:
    name = ""
    while time.monotonic() < deadline:
        line = stream.readline().decode().rstrip("\n")
        if line.startswith("event: "):
            name = line[7:]
        elif line == "" and name:
            return name
    raise AssertionError("no event before the deadline")


def test_live_events_report_a_cli_save_and_a_message(km_ui):
    km, ui = km_ui
    conn = http.client.HTTPConnection("127.0.0.1", ui.port, timeout=20)
    conn.request("GET", "/api/events", headers={"Host": f"127.0.0.1:{ui.port}",
                                                  "Cookie": ui.cookie})
    stream = conn.getresponse()
    try:
        assert stream.status == 200 and stream.getheader("content-type").startswith(
            "text/event-stream")
        deadline = time.monotonic() + 20
        assert _next_event(stream, deadline) == "hello"
        save_id(km, "saved while the page watches", "Live one")
        assert _next_event(stream, deadline) == "memories"
        km.run("msg", "send", "ping", "--to-agent", "someone", check=True)
        assert _next_event(stream, deadline) == "messages"
    finally:
        conn.close()


def test_another_address_needs_an_explicit_flag_and_warns(km_ui):
    km, _ = km_ui
    res = km.run("ui", "--no-browser", "--port", "0", "--host", "0.0.0.0")
    assert_one_line_error(res, 2, contains="--allow-remote")
    server = UiServer(km.env, km.home, ("--host", "0.0.0.0", "--allow-remote")).start()
    try:
        warning = "".join(server.stderr_lines)
        assert "warning" in warning and "unencrypted" in warning
        assert server.request("GET", "/", auth=False).status == 401
    finally:
        server.stop()
    assert server.proc is not None and server.proc.returncode in (0, -15)


def test_port_in_use_is_a_one_line_error(km_ui):
    km, ui = km_ui
    res = km.run("ui", "--no-browser", "--port", str(ui.port))
    assert_one_line_error(res, None, contains="cannot listen")
    assert isinstance(res, subprocess.CompletedProcess)

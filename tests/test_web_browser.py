"""The dashboard in a real browser (Debian's Chromium, driven by Playwright):
what a person sees and does. One server and one browser per module; each
test opens its own page. Screenshots for docs/dashboard.md with
KIOKU_SCREENSHOTS=1."""

from __future__ import annotations

import json
import os
import re

import pytest
from browser_helpers import REBIND_NAME, launch, screenshot, why_no_browser
from cli_helpers import save_id, search_ids
from conftest import make_env
from web_helpers import UiServer

pytestmark = pytest.mark.slow
_missing = why_no_browser()
if _missing and os.environ.get("KIOKU_REQUIRE_BROWSER") == "1":  # .ci/run: must run
    pytest.fail(_missing, pytrace=False)
if _missing:
    pytest.skip(_missing, allow_module_level=True)

from playwright.sync_api import expect, sync_playwright  # noqa: E402

HOSTILE = ("<script>window.__pwned=1</script><img src=x onerror=\"window.__pwned=2\"> "
           "\x1b[2J\x1b]0;title\x07 \u202eevil")
WAIT_MS = 15_000


@pytest.fixture(scope="module")
def ui_browser():
    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    km = make_env(tmp_path_factory.mktemp("browser"), KIOKU_MESH_CLIENT_ID="dash")
    save_id(km, "Use a token bucket for the retry budget; jitter 20%.", "Retry budget decision",
            "-p", "alpha", "--type", "decision", "-t", "retry,perf")
    save_id(km, "Cache keys carry the schema version.", "Cache key convention", "-p", "alpha",
            "-t", "cache")
    save_id(km, "Beta's deploy needs the feature flag on.", "Beta deploy flag", "-p", "beta")
    save_id(km, "Old cache idea.", "Old cache idea", "-p", "beta", "-t", "cache")
    server = UiServer(km.env, km.home).start()
    yield km, server
    server.stop()


@pytest.fixture
def ui_page(ui_browser, site):
    _, ui = site
    context = ui_browser.new_context(viewport={"width": 1200, "height": 820})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    # A refused request (400 for a bad filter) is the page working; a CSP
    # violation or a script error is not.
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error"
          and "Failed to load resource" not in m.text else None)
    pg.goto(ui.url)
    expect(pg.locator("#live")).to_have_text("live", timeout=WAIT_MS)
    yield pg
    context.close()
    assert errors == [], errors  # no script error, no CSP violation


def _subjects(page) -> list[str]:
    return page.locator("#results .hit a.subject").all_inner_texts()


def test_search_as_you_type_and_filters(ui_page):
    expect(ui_page.locator("#results .hit")).to_have_count(4, timeout=WAIT_MS)
    ui_page.fill("#q", "cache")
    expect(ui_page.locator("#summary")).to_contain_text("of 2", timeout=WAIT_MS)
    assert sorted(_subjects(ui_page)) == ["Cache key convention", "Old cache idea"]
    assert ui_page.locator("#results .why").first.inner_text().startswith("why: score")
    ui_page.fill("input[name=project]", "beta")
    expect(ui_page.locator("#results a.subject")).to_have_text(["Old cache idea"], timeout=WAIT_MS)
    ui_page.fill("#q", "")
    ui_page.fill("input[name=project]", "")
    ui_page.select_option("select[name=type]", "decision")
    expect(ui_page.locator("#results a.subject")).to_have_text(["Retry budget decision"],
                                                               timeout=WAIT_MS)
    assert "type=decision" in ui_page.locator("#export").get_attribute("href")
    screenshot(ui_page, "memories")
    ui_page.fill("input[name=since]", "not a time")
    expect(ui_page.locator("#results .error")).to_contain_text("invalid time", timeout=WAIT_MS)


def test_open_a_memory_and_its_supersede_chain(ui_page, site):
    km, _ = site
    old = search_ids(km, "Retry budget")[0]
    new = save_id(km, "Token bucket, jitter 10% now.", "Retry budget decision v2", "-p", "alpha",
                  "--supersedes", old)
    ui_page.fill("#q", "retry budget")
    ui_page.locator("#results a.subject", has_text="v2").click()
    expect(ui_page.locator("#memory-subject")).to_have_text("Retry budget decision v2",
                                                         timeout=WAIT_MS)
    expect(ui_page.locator("#memory-content")).to_have_text("Token bucket, jitter 10% now.")
    older = ui_page.locator("dd a", has_text="Retry budget decision")
    expect(older).to_have_count(1)
    screenshot(ui_page, "memory")
    older.click()
    expect(ui_page.locator("#memory-state")).to_contain_text(f"superseded by {new[:12]}",
                                                          timeout=WAIT_MS)


def test_delete_asks_first_and_says_what_propagates(ui_page, site):
    km, _ = site
    oid = save_id(km, "A note to delete from the browser.", "Doomed note", "-p", "gamma")
    ui_page.fill("#q", "doomed")
    card = ui_page.locator(f".hit[data-id='{oid}']")
    expect(card).to_have_count(1, timeout=WAIT_MS)
    card.locator("button.delete").click()
    dialog = ui_page.locator("#confirm")
    expect(dialog).to_be_visible()
    expect(ui_page.locator("#confirm-subject")).to_have_text("Doomed note")
    expect(ui_page.locator("#confirm-facts")).to_contain_text("local mode")
    screenshot(ui_page, "delete-confirm")
    ui_page.click("#confirm-cancel")
    expect(dialog).to_be_hidden()
    assert oid in search_ids(km, "doomed")
    card.locator("button.delete").click()
    ui_page.fill("#confirm-reason", "tested from the browser")
    ui_page.click("#confirm-ok")
    expect(card).to_have_count(0, timeout=WAIT_MS)
    assert search_ids(km, "doomed") == []
    got = json.loads(km.run("get", oid, "--include-hidden", "--json", check=True).stdout)
    assert "tested from the browser" in " ".join(got["_state"])


def test_a_memory_saved_by_the_cli_appears_live(ui_page, site):
    km, _ = site
    ui_page.fill("#q", "giraffe")
    expect(ui_page.locator("#no-hits")).to_be_visible(timeout=WAIT_MS)
    save_id(km, "Giraffes need tall racks.", "Giraffe rack sizing", "-p", "zoo")
    expect(ui_page.locator("#results a.subject")).to_have_text(["Giraffe rack sizing"],
                                                            timeout=WAIT_MS)


def test_hostile_text_renders_as_text(ui_page, site):
    km, _ = site
    oid = save_id(km, HOSTILE + "\nbody", HOSTILE, "-p", "hostile")
    ui_page.goto(ui_page.url.split("#")[0] + f"#/memory/{oid}")
    subject = ui_page.locator("#memory-subject")
    expect(subject).to_contain_text("<script>window.__pwned=1</script>", timeout=WAIT_MS)
    text = subject.inner_text()
    assert "\\u001b[2J" in text and "\\u202e" in text and "\x1b" not in text  # spelled out
    assert ui_page.evaluate("window.__pwned") is None
    assert ui_page.locator("#main img, #main script").count() == 0
    ui_page.goto(ui_page.url.split("#")[0] + "#/memories?q=pwned")
    expect(ui_page.locator("#results a.subject")).to_contain_text(["<img src=x"], timeout=WAIT_MS)
    assert ui_page.evaluate("window.__pwned") is None
    screenshot(ui_page, "hostile-text")


def test_a_message_sent_and_acked(ui_page, site):
    km, _ = site
    ui_page.goto(ui_page.url.split("#")[0] + "#/messages")
    ui_page.fill("#m-to", "bob")
    ui_page.fill("#m-body", "Please review the retry budget")
    ui_page.check("#m-ack")
    ui_page.click("#send")
    row = ui_page.locator("#sent tr", has_text="Please review the retry budget")
    expect(row.locator(".ack-state")).to_have_text("waiting for ack", timeout=WAIT_MS)
    sent = json.loads(km.run("msg", "inbox", "--json", extra_env={"KIOKU_MESH_CLIENT_ID": "bob"},
                             check=True).stdout)
    mid = next(m["msg_id"] for m in sent if m["body"] == "Please review the retry budget")
    km.run("msg", "ack", mid, extra_env={"KIOKU_MESH_CLIENT_ID": "bob"}, check=True)
    expect(row.locator(".ack-state")).to_contain_text("acked by bob", timeout=WAIT_MS)  # live
    km.run("msg", "send", "Dashboard, please ack", "--to-agent", "dash", "--requires-ack",
           extra_env={"KIOKU_MESH_CLIENT_ID": "carol"}, check=True)
    incoming = ui_page.locator("#inbox tr", has_text="Dashboard, please ack")
    expect(incoming).to_have_count(1, timeout=WAIT_MS)
    screenshot(ui_page, "messages")
    incoming.locator("button.ack").click()
    expect(incoming.locator(".ack-state")).to_contain_text("acked by dash", timeout=WAIT_MS)
    status = json.loads(km.run("msg", "status", "--json",
                               extra_env={"KIOKU_MESH_CLIENT_ID": "carol"}, check=True).stdout)
    assert [a["recipient_agent_id"] for a in status[0]["acks"]] == ["dash"]


def test_activity_page_draws_its_charts_inline(ui_page):
    ui_page.goto(ui_page.url.split("#")[0] + "#/activity")
    expect(ui_page.locator("#chart-agents svg rect")).not_to_have_count(0, timeout=WAIT_MS)
    assert int(ui_page.locator("#saves-total").inner_text()) >= 4
    expect(ui_page.locator("#latency")).to_contain_text("p50")
    screenshot(ui_page, "activity")


def test_without_the_token_or_under_another_name_nothing_is_shown(ui_browser, site):
    _, ui = site
    context = ui_browser.new_context()
    try:
        pg = context.new_page()
        reply = pg.goto(ui.base + "/")
        assert reply.status == 401 and "no valid token" in pg.inner_text("body")
        # DNS rebinding: another name that resolves to 127.0.0.1, token and all.
        reply = pg.goto(ui.url.replace("127.0.0.1", REBIND_NAME))
        assert reply.status == 421 and "DNS rebinding" in pg.inner_text("body")
        assert pg.context.cookies() == []
    finally:
        context.close()


def test_mesh_page_with_two_real_nodes(ui_browser, tmp_path):
    from mesh_helpers import Cluster

    mesh = Cluster(tmp_path / "mesh")
    try:
        hub, spoke = mesh.connected_pair()
        hub.run("team", "add", "core", "alice", "bob")
        spoke_pc = json.loads(spoke.run("status", "--json").stdout)["identity"]["pc_id"]
        ui = UiServer(hub.env, hub.home).start()
        context = ui_browser.new_context(viewport={"width": 1200, "height": 820})
        try:
            pg = context.new_page()
            pg.goto(ui.url)
            pg.goto(ui.base + "/#/mesh")
            expect(pg.locator("#mode")).to_contain_text("hub", timeout=WAIT_MS)
            peer = pg.locator(f"#peers tr[data-pc='{spoke_pc}']")
            expect(peer).to_contain_text("connected", timeout=WAIT_MS)
            expect(pg.locator("main")).to_contain_text("team core")
            expect(pg.locator("main")).to_contain_text("running (hub")
            screenshot(pg, "mesh")
            spoke.node.stop()
            expect(peer).to_contain_text(re.compile("last heard"), timeout=30_000)  # live
        finally:
            context.close()
            ui.stop()
    finally:
        mesh.close()

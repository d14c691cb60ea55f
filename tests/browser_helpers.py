"""Debian's Chromium driven by Playwright for the dashboard's browser tests
(not a test module). Playwright's own browser download does not work on these
machines; `apt-get install chromium` does (.ci/run installs it)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

CHROMIUM = os.environ.get("KIOKU_CHROMIUM", "/usr/bin/chromium")
# rebind.test resolves to 127.0.0.1 inside the browser only: a DNS-rebinding
# attacker's name pointing at the dashboard, with no DNS server involved.
REBIND_NAME = "rebind.test"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--host-resolver-rules=MAP {REBIND_NAME} 127.0.0.1"]
SHOTS = Path(__file__).resolve().parents[1] / "docs" / "img"
SKIP_MARK = "NO BROWSER"


def why_no_browser() -> str | None:
    """None when the browser tests can run, else the reason (shown loudly)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return (f"{SKIP_MARK}: playwright is not installed (make .venv/.dev installs the dev "
                "dependencies)")
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        return (f"{SKIP_MARK}: {CHROMIUM} not found; install Debian's chromium "
                "(apt-get install -y chromium) to run the dashboard's browser tests")
    return None


def launch(playwright: Any) -> Any:
    # launch() gives every run a fresh temporary profile (user-data dir).
    return playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)


def screenshot(page: Any, name: str) -> None:
    """docs/img/dashboard-NAME.png, only when KIOKU_SCREENSHOTS=1 (normal runs
    leave the tree clean)."""
    if os.environ.get("KIOKU_SCREENSHOTS") == "1":
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"dashboard-{name}.png"), full_page=True)

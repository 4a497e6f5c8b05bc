"""Browser fixtures: a real `chainsight serve` on a fresh SQLite database holding the demo
trial and the demo users, and headless Debian Chromium driven by Playwright. Every page a
test opens fails the test on a console error, an uncaught exception or a failed request."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    Request,
    sync_playwright,
)

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "demo-cart-phase1.yaml"
TRIAL = "CART-DEMO"
PASSWORD = "chainsight-demo"
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = os.environ.get("CHAINSIGHT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync",
                 "--disable-dev-shm-usage"]
CHAINSIGHT = str(Path(sys.executable).with_name("chainsight"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    """A running control tower."""

    url: str
    env: dict[str, str]
    log: Path


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`chainsight serve` on a free port, on a new database with the demo trial imported
    and the demo users created exactly as `make run` does it."""
    folder = tmp_path_factory.mktemp("tower")
    env = {**os.environ, "CHAINSIGHT_DATABASE_URL": f"sqlite:///{folder / 'chainsight.db'}",
           "CHAINSIGHT_WEBHOOKS_ENABLED": "false", "CHAINSIGHT_STREAM_POLL_SECONDS": "0.3"}
    for args in (["import", str(DEMO), "--keep-existing"], ["demo-users", TRIAL]):
        subprocess.run([CHAINSIGHT, *args], env=env, check=True, capture_output=True,
                       timeout=120)
    port = _free_port()
    log = folder / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [CHAINSIGHT, "serve", "--host", "127.0.0.1", "--port", str(port),
             "--log-level", "warning"], env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start:\n{log.read_text()}")
            time.sleep(0.2)
        yield Server(url, env, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
    text = log.read_text(errors="replace")
    assert "Traceback" not in text, f"the server logged an error:\n{text[-4000:]}"


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Playwright]:
    """Playwright itself."""
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    """Debian's Chromium, headless (no browser is downloaded)."""
    if shutil.which(CHROMIUM) is None and not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is needed for the browser tests: {CHROMIUM} is missing")
    browser = playwright_driver.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@dataclass
class Problems:
    """What went wrong in the browser while a test ran."""

    items: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> Page:
        """Listen to a page's console errors, exceptions and failed requests."""
        page.on("console", lambda m: self.items.append(f"console {m.type}: {m.text}")
                if m.type == "error" else None)
        page.on("pageerror", lambda e: self.items.append(f"page error: {e}"))
        page.on("requestfailed", self._failed)
        return page

    def _failed(self, request: Request) -> None:
        # The live stream never ends on its own: leaving the page closes it, which the
        # browser reports as an aborted request. That, and only that, is expected.
        if "/api/stream" in request.url and request.failure == "net::ERR_ABORTED":
            return
        self.items.append(f"request failed: {request.method} {request.url} {request.failure}")


@pytest.fixture
def problems() -> Iterator[Problems]:
    """Collects browser problems; the test fails at the end if there were any."""
    found = Problems()
    yield found
    assert not found.items, "problems in the browser:\n" + "\n".join(found.items)


@dataclass
class Session:
    """A logged-in browser context for one demo user."""

    context: BrowserContext
    page: Page
    role: str
    base: str

    def open(self, view: str, query: str = "") -> Page:
        """Go to a view of the demo trial and wait until its charts are drawn."""
        self.page.goto(f"{self.base}/trials/{TRIAL}/{view}{query}")
        wait_for_charts(self.page)
        return self.page

    def new_page(self, problems: Problems) -> Page:
        """Another tab of the same user."""
        return problems.watch(self.context.new_page())


def wait_for_charts(page: Page) -> None:
    """Wait until every chart the page declares has been drawn by plotly.js."""
    count = page.locator("script.chart-data").count()
    if count:
        page.wait_for_function(
            "n => document.querySelectorAll('.chart .main-svg').length >= n", arg=count)


def login(browser: Browser, server: Server, role: str, problems: Problems) -> Session:
    """Log in as the demo user of ``role`` through the login form."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = problems.watch(context.new_page())
    page.goto(f"{server.url}/")
    assert "/login" in page.url
    page.get_by_label("User name").fill(f"demo-{role}")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(rf".*/trials/{TRIAL}/\w+"))
    return Session(context, page, role, server.url)


@pytest.fixture
def as_role(browser: Browser, server: Server, problems: Problems
            ) -> Iterator[Callable[[str], Session]]:
    """Log in as a role; contexts are closed at the end of the test."""
    opened: list[Session] = []

    def make(role: str) -> Session:
        session = login(browser, server, role, problems)
        opened.append(session)
        return session

    yield make
    for session in opened:
        for page in session.context.pages:
            page.close()
        session.context.close()


def screenshot(page: Page, name: str) -> None:
    """Keep a full-page screenshot as a test artifact."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

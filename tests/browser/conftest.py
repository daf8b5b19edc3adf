"""Real-browser tests: Playwright for Python driving Debian's Chromium (/usr/bin/chromium).

Without a browser the tests skip with the reason; under CI (CI=true) a missing browser is a
failure instead, so a green CI run always means the browser tests really ran.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from accounts.tests.factories import TEST_PASSWORD

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT_DIR = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        reason = f"no Chromium at {CHROMIUM}; install Debian's `chromium` package"
        if _in_ci():
            pytest.fail(f"browser tests cannot be skipped in CI: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


PHONE = {
    "viewport": {"width": 375, "height": 812},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
}


def _collect_console_errors(page):
    """`page.console_errors` lists the console errors and uncaught exceptions of the page.

    A page answering 4xx on purpose (a form shown again with its errors answers 400) makes
    Chromium log "Failed to load resource" for the document itself; that is the page's status,
    not a script error, so it is left out. A failing script, style sheet or image still counts.
    """
    console_errors: list[str] = []
    documents: set[str] = set()

    def on_request(request):
        if request.resource_type == "document":
            documents.add(request.url)

    def on_console(message):
        if message.type != "error":
            return
        failed_url = message.location.get("url", "")
        if message.text.startswith("Failed to load resource") and failed_url in documents:
            return
        console_errors.append(f"{message.text} ({failed_url})" if failed_url else message.text)

    page.on("request", on_request)
    page.on("console", on_console)
    page.on("pageerror", lambda exc: console_errors.append(str(exc)))
    page.console_errors = console_errors
    return page


@pytest.fixture
def new_page(browser, live_server):
    """`new_page(**context_options)` → a page in a fresh browser context (its own cookies, so
    its own logged-in user) that collects `console_errors`; every context closes at teardown."""
    contexts = []

    def make(**options):
        context = browser.new_context(base_url=live_server.url, locale="ru-RU", **options)
        contexts.append(context)
        return _collect_console_errors(context.new_page())

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    return new_page()


@pytest.fixture
def phone_page(new_page):
    return new_page(**PHONE)


def login(page, username: str, password: str = TEST_PASSWORD) -> None:
    """Log in through the real login form; waits until the landing list is shown."""
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.locator("main form [type=submit]").click()
    page.wait_for_url("**/tickets/**")


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot under artifacts/screenshots/ (git-ignored; CI keeps it)."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOT_DIR / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path

"""Playwright helpers for the page tests: a Chromium browser, pages in their own
contexts (each a separate tab with its own sign-in), and ways to read what a page shows."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    ViewportSize,
    expect,
    sync_playwright,
)

from tests.conftest import skip_or_fail

# Playwright's default of 5 s is short on two cores shared with the server, its
# SCHED_IDLE workers and the rest of the suite (a sign-in once took longer in a full
# run); a passing check returns as soon as it holds, so this only lengthens failures.
expect.set_options(timeout=10_000)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TABLET: ViewportSize = {"width": 1024, "height": 768}
DESKTOP: ViewportSize = {"width": 1366, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}


@contextmanager
def chromium(args: Sequence[str] = ()) -> Iterator[Browser]:
    """Chromium as the page tests run it; `args`: more command-line switches (a fake
    camera, say)."""
    if not CHROMIUM.exists():
        skip_or_fail(f"{CHROMIUM} is missing (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *args]
        )
        try:
            yield browser
        finally:
            browser.close()


class Tab:
    """One page in its own browser context, remembering uncaught script errors."""

    def __init__(
        self,
        browser: Browser,
        base_url: str,
        viewport: ViewportSize,
        *,
        ignore_https_errors: bool = False,
    ) -> None:
        self.base_url = base_url
        # ignore_https_errors: for the E-IMZO app stand-in's self-signed wss:// certificate.
        self.context: BrowserContext = browser.new_context(
            viewport=viewport, ignore_https_errors=ignore_https_errors
        )
        self.page: Page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        # The Content-Security-Policy refuses quietly, with a console error only: count
        # each refusal as a script error, so every page test also checks the policy.
        self.page.on("console", self._csp_violation)
        self.page.on("dialog", lambda dialog: dialog.accept())

    def _csp_violation(self, message: ConsoleMessage) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            self.errors.append(message.text)

    def open(self, path: str) -> Page:
        self.page.goto(self.base_url + path)
        return self.page

    def by(self, testid: str) -> Any:
        return self.page.get_by_test_id(testid)

    def wait_online(self, timeout_ms: float = 15000) -> None:
        """Connected and subscribed (after a drop, the backoff may take a few seconds)."""
        expect(self.by("conn-status")).to_have_attribute(
            "data-status", "online", timeout=timeout_ms
        )

    def sign_in(self, path: str, login: str, *, quick: bool = False) -> None:
        """Sign in through the page's form: typing the login, or with its quick button."""
        self.open(path)
        if quick:
            self.by(f"login-quick-{login}").click()
        else:
            self.by("login-input").fill(login)
            self.by("login-submit").click()
        self.wait_online()

    def state(self) -> dict[str, Any]:
        """The page's session state, as the JS live client holds it (JSON round trip)."""
        return dict(json.loads(self.page.evaluate("JSON.stringify(window.kengash.live.state)")))

    def seq(self) -> int:
        return int(self.page.evaluate("window.kengash.live.state?.seq ?? 0"))

    def wait_seq(self, seq: int) -> None:
        self.page.wait_for_function("s => window.kengash.live.state?.seq === s", arg=seq)

    def rendered(self) -> str:
        """The live view's markup and text, without what changes every second (timers)."""
        return str(
            self.page.evaluate(
                """() => {
                    const view = document.querySelector('[data-testid=live-view]').cloneNode(true);
                    view.querySelectorAll('[data-volatile]').forEach((el) => el.remove());
                    return view.outerHTML;
                }"""
            )
        )

    def close(self) -> None:
        self.context.close()

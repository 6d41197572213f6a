"""Headless Chromium (Debian's, driven by Playwright) for the browser tests: missing, the tests are
skipped with a message, except in CI (`CI=true`), where they fail."""

import os
import shutil
from collections.abc import AsyncIterator, Iterator

import pytest
from playwright.async_api import Browser, async_playwright

from tests.auth import SECRET
from tests.servers import running_server

CHROMIUM = os.environ.get("FRAMESTATE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        message = (
            f"Chromium is not installed at {CHROMIUM} (`make test` installs Debian's chromium where it can)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message + "; in CI it must run.")
        pytest.skip(message)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
def board_url(sqlite_url: str) -> Iterator[str]:
    """The board on a server of its own (SQLite: the browser is what is tested here)."""
    with running_server(sqlite_url) as base_url:
        yield base_url


@pytest.fixture
def secured_url(sqlite_url: str) -> Iterator[str]:
    """The board on a server of its own, with auth on."""
    with running_server(sqlite_url, extra_env={"FRAMESTATE_JWT_SECRET": SECRET}) as base_url:
        yield base_url

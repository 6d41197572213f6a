"""`framestate demo` on the board, as a new user sees it in the first minute: a card in every status,
bars that move, and, on Ctrl-C, every export of the demo ended. The README's picture of the board
is taken here (`make screenshot`)."""

import asyncio
import os
import signal

import pytest
from playwright.async_api import Browser, expect

from tests.commands import CLI, environment
from tests.servers import ROOT

pytestmark = pytest.mark.anyio
SCREENSHOT = os.environ.get("FRAMESTATE_SCREENSHOT")
"""Where to save the board (`make screenshot` sets docs/board.png)."""
STATUSES = ["not_started", "in_progress", "framed", "exporting_framing", "exporting_overlay", "complete"]


async def test_the_demo_fills_the_board_and_ends_its_exports_on_ctrl_c(
    board_url: str, browser: Browser
) -> None:
    page = await browser.new_page(viewport={"width": 1280, "height": 840})
    await page.goto(board_url)
    await expect(page.locator("#empty")).to_be_visible()
    demo = await asyncio.create_subprocess_exec(
        *CLI, "demo", "--url", board_url, cwd=ROOT, env=environment(), stdout=asyncio.subprocess.PIPE
    )
    try:
        await expect(page.locator(".card")).to_have_count(7, timeout=15_000)
        for status in STATUSES:
            await expect(page.locator(f'.card[data-status="{status}"]').first).to_be_visible()
        surf = page.locator(".card", has_text="Surf trip — Portugal").locator(".export-percent")
        first = await surf.inner_text()
        await expect(surf).not_to_have_text(first, timeout=5_000)
        await expect(page.locator(".export")).to_have_count(3)
        if SCREENSHOT:
            await page.mouse.move(0, 0)
            await page.screenshot(path=SCREENSHOT)
    finally:
        if demo.returncode is None:
            demo.send_signal(signal.SIGINT)
        stdout, _ = await demo.communicate()
    assert demo.returncode == 0, stdout.decode()
    assert f"open the board at {board_url}/" in stdout.decode()
    await expect(page.locator(".export")).to_have_count(0)
    await expect(page.locator(".card")).to_have_count(7)

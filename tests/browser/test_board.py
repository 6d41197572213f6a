"""The project board in a real browser (headless Chromium driven by Playwright) against a real server.

The card that once lied: re-frame a complete project, watch its badge turn to "Framing…" and its
bar move while a simulated worker reports, reload mid-export and see the same, let the export fail
and see "Complete" come back.
"""

import asyncio
import os
import re
import shutil
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Dialog, Page, async_playwright, expect

from service.auth import Role, mint_token
from tests.conftest import fresh_database_url
from tests.servers import ROOT, running_server

pytestmark = pytest.mark.anyio
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
SCREENSHOT = os.environ.get("FRAMESTATE_SCREENSHOT")
"""Where to save the board mid-export (`make screenshot` sets docs/board.png)."""


@pytest.fixture
def server_url(tmp_path: Path) -> Iterator[str]:
    for url in fresh_database_url("sqlite", tmp_path):
        with running_server(url) as base_url:
            yield base_url


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


async def _percent(page: Page, project_id: str) -> float:
    text = await page.locator(f'[data-project-id="{project_id}"] .export-percent').inner_text()
    match = re.fullmatch(r"(\d+)%", text.strip())
    return float(match.group(1)) if match else -1.0


async def _complete_project(
    client: httpx.AsyncClient, name: str, worker: httpx.AsyncClient | None = None
) -> str:
    project = (await client.post("/v1/projects", json={"name": name})).json()
    await client.post(f"/v1/projects/{project['id']}/clips", json={"crop_data": {"keyframes": []}})
    for job_type in ("framing", "overlay"):
        job = (await client.post(f"/v1/projects/{project['id']}/exports", json={"type": job_type})).json()
        assert (await (worker or client).post(f"/v1/exports/{job['id']}/succeed")).status_code == 200
    project_id: str = project["id"]
    return project_id


async def test_a_reframe_on_the_board(server_url: str, browser: Browser) -> None:
    async with httpx.AsyncClient(base_url=server_url) as client:
        project_id = await _complete_project(client, "Surf trip — Portugal")
        await client.post("/v1/projects", json={"name": "Wedding <b>highlights</b>"})
        await _complete_project(client, "Product launch teaser")
    page = await browser.new_page(viewport={"width": 1280, "height": 720})
    await page.goto(server_url)
    card = page.locator(f'[data-project-id="{project_id}"]')
    badge = card.locator(".badge")
    await expect(badge).to_have_text("Complete")
    await expect(page.locator(".name", has_text="Wedding <b>highlights</b>")).to_have_count(1)
    await expect(page.locator("#live")).to_have_attribute("data-state", "live")

    await card.locator('[data-action="start_framing_export"]').click()
    await expect(badge).to_have_text("Framing…")
    await expect(card.locator(".final")).to_have_text("v1")

    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "service.cli",
        "simulate-export",
        project_id,
        "--type",
        "framing",
        "--seconds",
        "6",
        "--fail",
        "--url",
        server_url,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        await expect(card.locator(".export-percent")).to_have_text(re.compile(r"[1-9]\d*%"), timeout=10_000)
        first = await _percent(page, project_id)
        await expect(card.locator(".export-percent")).not_to_have_text(f"{first:.0f}%", timeout=10_000)
        moved = await _percent(page, project_id)
        assert moved > first
        if SCREENSHOT:
            await page.screenshot(path=SCREENSHOT)

        await page.reload()
        card = page.locator(f'[data-project-id="{project_id}"]')
        await expect(card.locator(".badge")).to_have_text("Framing…")
        await expect(card.locator(".export-percent")).to_have_text(re.compile(r"\d+%"))
        assert await _percent(page, project_id) >= moved

        await expect(card.locator(".badge")).to_have_text("Complete", timeout=20_000)
        await expect(card.locator(".exports")).to_be_empty()
        await expect(card.locator(".final")).to_have_text("v1")
    finally:
        stdout, _ = await worker.communicate()
    assert worker.returncode == 0, stdout.decode()
    assert b"reporting on the framing export already running" in stdout
    assert b"failed (as asked)" in stdout


SECRET = "browser-secret-" + "b" * 32


@pytest.fixture
def secured_url(tmp_path: Path) -> Iterator[str]:
    for url in fresh_database_url("sqlite", tmp_path):
        with running_server(url, extra_env={"FRAMESTATE_JWT_SECRET": SECRET}) as base_url:
            yield base_url


async def test_the_board_and_the_simulated_worker_work_with_auth_on(
    secured_url: str, browser: Browser
) -> None:
    alice, bob = mint_token(SECRET, "alice", Role.CLIENT), mint_token(SECRET, "bob", Role.CLIENT)
    renderer = mint_token(SECRET, "renderer", Role.WORKER)
    async with (
        httpx.AsyncClient(base_url=secured_url, headers={"Authorization": f"Bearer {alice}"}) as client,
        httpx.AsyncClient(base_url=secured_url, headers={"Authorization": f"Bearer {renderer}"}) as worker,
    ):
        project_id = await _complete_project(client, "Alice's reel", worker)
    async with httpx.AsyncClient(base_url=secured_url, headers={"Authorization": f"Bearer {bob}"}) as client:
        await client.post("/v1/projects", json={"name": "Bob's reel"})
    page = await browser.new_page()
    prompts: list[str] = []

    async def answer(dialog: Dialog) -> None:
        prompts.append(dialog.message)
        await dialog.accept(alice)

    page.on("dialog", answer)
    await page.goto(secured_url)
    card = page.locator(f'[data-project-id="{project_id}"]')
    await expect(card.locator(".badge")).to_have_text("Complete")
    await expect(page.locator(".card")).to_have_count(1)
    assert len(prompts) == 1
    await card.locator('[data-action="start_framing_export"]').click()
    await expect(card.locator(".badge")).to_have_text("Framing…")

    simulator = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "service.cli", "simulate-export", project_id, "--type", "framing"),
        *("--seconds", "1", "--url", secured_url),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        env={
            **os.environ,
            "FRAMESTATE_TOKEN": alice,
            "FRAMESTATE_WORKER_TOKEN": renderer,
        },
    )
    stdout, _ = await simulator.communicate()
    assert simulator.returncode == 0, stdout.decode()
    await expect(card.locator(".badge")).to_have_text("Framed")
    await expect(card.locator(".working")).to_have_text("v2")
    await page.reload()
    await expect(page.locator(f'[data-project-id="{project_id}"] .badge')).to_have_text("Framed")
    assert len(prompts) == 1, "the token is kept across a reload"

"""The board without dead ends: a project made on it is taken forward (a framed clip added, one
removed), an export is cancelled with or without a reason, a project is deleted after a
confirmation (refused in words while an export runs), a running export whose worker went silent is
marked, and the page has its icon."""

import re

import httpx
import pytest
from playwright.async_api import Browser, expect

from tests.servers import running_server

pytestmark = pytest.mark.anyio


async def test_a_project_made_on_the_board_goes_from_no_clips_to_deleted(
    board_url: str, browser: Browser
) -> None:
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    await page.goto(board_url)
    await expect(page.locator('link[rel="icon"]')).to_have_attribute("href", "/favicon.ico")
    icon = await page.request.get(f"{board_url}/favicon.ico")
    assert (icon.status, icon.headers["content-type"]) == (200, "image/vnd.microsoft.icon")

    await page.locator("#new-name").fill("Birthday montage")
    await page.locator("#new-project button").click()
    card = page.locator(".card", has_text="Birthday montage")
    await expect(card.locator(".badge")).to_have_text("Not Started")
    await expect(card.locator(".next-step")).to_have_text("No clips yet: add a framed clip to start framing.")
    await card.get_by_role("button", name="Add a framed clip").click()
    await expect(card.locator(".badge")).to_have_text("In Progress")
    await expect(card.locator(".next-step")).to_be_hidden()

    await card.locator(".name").click()
    clips = page.locator("#inspector-clips li")
    await expect(clips).to_have_count(1)
    await page.locator("#inspector-add-clip").click()
    await expect(clips).to_have_count(2)
    await expect(card.locator(".clips")).to_have_text("2")
    await clips.first.get_by_role("button", name="Remove").click()
    await expect(clips).to_have_count(1)
    await expect(card.locator(".clips")).to_have_text("1")
    await page.keyboard.press("Escape")

    await card.get_by_role("button", name="Start framing").click()
    await expect(card.locator(".badge")).to_have_text("Framing…")
    await card.locator(".name").click()
    await page.locator("#inspector-delete").click()
    delete = page.locator("#delete-dialog")
    await expect(page.locator("#delete-title")).to_have_text("Delete “Birthday montage”?")
    await delete.get_by_role("button", name="Delete project").click()
    await expect(page.locator("#delete-error")).to_have_text(
        "It has an export running: cancel the export (or let it end) first, then delete the project."
    )
    await delete.get_by_role("button", name="Keep it").click()
    await expect(delete).to_be_hidden()
    await expect(page.locator("#inspector")).to_be_visible()
    await page.keyboard.press("Escape")

    cancel = page.locator("#cancel-dialog")
    await card.locator(".cancel").click()
    await expect(page.locator("#cancel-title")).to_have_text(
        "Cancel the framing export of “Birthday montage”?"
    )
    await cancel.get_by_role("button", name="Cancel export").click()  # no reason given
    await expect(card.locator(".badge")).to_have_text("In Progress")
    await card.get_by_role("button", name="Start framing").click()
    await card.locator(".cancel").click()
    await page.locator("#cancel-reason").fill("Wrong clips picked")
    await cancel.get_by_role("button", name="Cancel export").click()
    await expect(card.locator(".badge")).to_have_text("In Progress")

    await card.locator(".name").click()
    history = page.locator("#inspector-history li")
    await expect(history.locator(".action")).to_have_text(
        [
            "Export cancelled",
            "Start framing",
            "Export cancelled",
            "Start framing",
            "Clip added",
            "Project created",
        ]
    )
    await expect(history.nth(0).locator(".reason")).to_have_text("Wrong clips picked")
    await expect(history.nth(2).locator(".reason")).to_have_count(0)
    project_id = await card.get_attribute("data-project-id")
    await page.locator("#inspector-delete").click()
    await delete.get_by_role("button", name="Delete project").click()
    await expect(card).to_have_count(0)
    await expect(page.locator("#inspector")).to_be_hidden()
    assert (await page.request.get(f"{board_url}/v1/projects/{project_id}")).status == 404
    assert dialogs == [], "the board's own dialogs, not the browser's"


async def test_an_export_whose_worker_went_silent_is_marked(sqlite_url: str, browser: Browser) -> None:
    """With a job timeout of 20 s, an export without a report for more than 2 s is marked."""
    with running_server(sqlite_url, extra_env={"FRAMESTATE_JOB_TIMEOUT_S": "20"}) as url:
        async with httpx.AsyncClient(base_url=url) as client:
            project = (await client.post("/v1/projects", json={"name": "Cooking show — episode 12"})).json()
            await client.post(f"/v1/projects/{project['id']}/clips", json={"crop_data": {"keyframes": []}})
            job = (
                await client.post(f"/v1/projects/{project['id']}/exports", json={"type": "framing"})
            ).json()
            await client.post(f"/v1/exports/{job['id']}/progress", json={"progress": 35})
            page = await browser.new_page()
            await page.goto(url)
            mark = page.locator(f'[data-project-id="{project["id"]}"] .export-stale')
            await expect(mark).to_have_text(re.compile(r"^no report for [3-9] s$"), timeout=8_000)
            assert "after 20 s without a report" in str(await mark.get_attribute("title"))
            await client.post(f"/v1/exports/{job['id']}/progress", json={"progress": 40})
            await expect(mark).to_be_hidden()

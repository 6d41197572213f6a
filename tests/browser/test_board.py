"""The project board in a real browser (headless Chromium driven by Playwright) against a real server.

The card that once lied: re-frame a complete project, watch its badge turn to "Framing…" and its
bar move while a simulated worker reports, reload mid-export and see the same, let the export fail
and see "Complete" come back.
"""

import asyncio
import itertools
import os
import re
import sys
from collections.abc import Iterator

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from bench.servers import free_port
from service.http.auth import Role
from tests.auth import SECRET, token
from tests.browser.signing_in import sign_in
from tests.servers import ROOT, running_server, server_process

pytestmark = pytest.mark.anyio


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


async def test_a_reframe_on_the_board(board_url: str, browser: Browser) -> None:
    async with httpx.AsyncClient(base_url=board_url) as client:
        project_id = await _complete_project(client, "Surf trip — Portugal")
        await client.post("/v1/projects", json={"name": "Wedding <b>highlights</b>"})
        await _complete_project(client, "Product launch teaser")
    page = await browser.new_page(viewport={"width": 1280, "height": 720})
    await page.goto(board_url)
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
        "service.commands.cli",
        "simulate-export",
        project_id,
        "--type",
        "framing",
        "--seconds",
        "6",
        "--fail",
        "--url",
        board_url,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        await expect(card.locator(".export-percent")).to_have_text(re.compile(r"[1-9]\d*%"), timeout=10_000)
        first = await _percent(page, project_id)
        await expect(card.locator(".export-percent")).not_to_have_text(f"{first:.0f}%", timeout=10_000)
        moved = await _percent(page, project_id)
        assert moved > first

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


async def test_the_board_and_the_simulated_worker_work_with_auth_on(
    secured_url: str, browser: Browser
) -> None:
    alice, bob = token("alice"), token("bob")
    renderer = token("renderer", Role.WORKER)
    async with (
        httpx.AsyncClient(base_url=secured_url, headers={"Authorization": f"Bearer {alice}"}) as client,
        httpx.AsyncClient(base_url=secured_url, headers={"Authorization": f"Bearer {renderer}"}) as worker,
    ):
        project_id = await _complete_project(client, "Alice's reel", worker)
    async with httpx.AsyncClient(base_url=secured_url, headers={"Authorization": f"Bearer {bob}"}) as client:
        await client.post("/v1/projects", json={"name": "Bob's reel"})
    page = await browser.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    await page.goto(secured_url)
    await expect(page.locator("#board")).to_be_hidden()
    await sign_in(page, renderer)
    await expect(page.locator("#sign-in-error")).to_contain_text("worker token")
    await sign_in(page, alice)
    await expect(page.locator("#account-name")).to_have_text("alice")
    card = page.locator(f'[data-project-id="{project_id}"]')
    await expect(card.locator(".badge")).to_have_text("Complete")
    await expect(page.locator(".card")).to_have_count(1)
    await card.locator('[data-action="start_framing_export"]').click()
    await expect(card.locator(".badge")).to_have_text("Framing…")

    simulator = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "service.commands.cli", "simulate-export", project_id, "--type", "framing"),
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
    await expect(page.locator("#account-name")).to_have_text("alice")

    await page.locator("#sign-out").click()
    await expect(page.locator("#sign-in")).to_be_visible()
    await expect(page.locator(".card")).to_have_count(0)
    await page.reload()
    await expect(page.locator("#sign-in")).to_be_visible()
    assert dialogs == [], "no window.prompt, alert or confirm"


ARROWS = {
    "not_started>in_progress",
    "in_progress>not_started",
    "in_progress>exporting_framing",
    "framed>exporting_framing",
    "complete>exporting_framing",
    "exporting_overlay>exporting_framing",
    "framed>exporting_overlay",
    "complete>exporting_overlay",
    "exporting_framing>exporting_overlay",
    "exporting_framing>framed",
    "exporting_overlay>complete",
    "exporting>not_started",
    "exporting>in_progress",
    "exporting>framed",
    "exporting>complete",
}
"""The moves between states, as the contract's rules make them: an export ending otherwise than by
success goes back to what the facts say from either export state, drawn from `exporting` itself."""
WORKFLOW = ["not_started", "in_progress", "exporting_framing", "framed", "exporting_overlay", "complete"]

Segment = tuple[tuple[float, float], tuple[float, float]]


def _segments(path: str) -> list[Segment]:
    points = [tuple(map(float, xy.split(","))) for xy in re.findall(r"-?[\d.]+,-?[\d.]+", path)]
    return [((a[0], a[1]), (b[0], b[1])) for a, b in itertools.pairwise(points)]


def _cross(one: Segment, other: Segment) -> bool:
    """Whether two segments cross at a point inside both (touching at an end is not crossing)."""
    (x1, y1), (x2, y2) = one
    (x3, y3), (x4, y4) = other
    denominator = (x1 - x2) * (y3 - y4) - (y1 - y2) * (x3 - x4)
    if denominator == 0:
        return False
    t = ((x1 - x3) * (y3 - y4) - (y1 - y3) * (x3 - x4)) / denominator
    u = ((x1 - x3) * (y1 - y2) - (y1 - y3) * (x1 - x2)) / denominator
    return 0.01 < t < 0.99 and 0.01 < u < 0.99


async def _the_diagram_reads_in_workflow_order_and_says_its_arrows(page: Page) -> None:
    machine = page.locator("#inspector .machine")
    lefts = [
        float(await machine.locator(f'.state[data-state="{s}"] rect').get_attribute("x") or 0)
        for s in WORKFLOW
    ]
    assert lefts == sorted(lefts), "left to right in workflow order"
    arrows = machine.locator(".edges .edge")
    assert {await a.get_attribute("data-arrow") for a in await arrows.all()} == ARROWS
    paths = {
        str(await a.get_attribute("data-arrow")): str(await a.locator(".line").get_attribute("d"))
        for a in await arrows.all()
    }
    crossings = [
        (one, other)
        for one in paths
        for other in paths
        if one < other and any(_cross(a, b) for a in _segments(paths[one]) for b in _segments(paths[other]))
    ]
    assert crossings == []
    label = machine.locator(".edge-label")
    await expect(label).to_be_hidden()
    await machine.locator('[data-arrow="complete>exporting_framing"]').focus()
    await expect(label).to_have_text("Start framing")
    await expect(page.locator("#inspector-edge")).to_have_text(
        "Start framing: Complete → Framing…, when at least one clip is framed."
    )
    await page.keyboard.press("Tab")
    focused = machine.locator(".edge:focus")
    await expect(focused).to_have_count(1)
    await expect(label).to_have_text(str(await focused.get_attribute("aria-label")).split(":")[0])
    box = await machine.bounding_box()
    assert box is not None
    scale = (
        box["width"] / 660
    )  # the diagram's viewBox is 660 wide; the arrow runs from (392, 180) up to (392, 129)
    await page.mouse.move(box["x"] + 392 * scale, box["y"] + 155 * scale)
    await expect(label).to_have_text("Export failed, cancelled or timed out")
    await expect(page.locator("#inspector-edge")).to_contain_text("Framing… or Overlay… → Framed")
    await page.mouse.move(0, 0)
    await expect(label).to_be_hidden()
    await expect(page.locator("#inspector-edge")).to_contain_text("Point at an arrow")
    await page.locator("#inspector-close").focus()


INSPECTOR_SCREENSHOT = os.environ.get("FRAMESTATE_INSPECTOR_SCREENSHOT")
"""Where to save the inspector mid-re-frame (`make screenshot` sets docs/inspector.png)."""


async def _a_project_with_a_past(client: httpx.AsyncClient) -> str:
    """A complete project whose history holds a cancelled overlay with its reason."""
    project = (await client.post("/v1/projects", json={"name": "Surf trip — Portugal"})).json()
    path = f"/v1/projects/{project['id']}"
    await client.post(f"{path}/clips", json={"crop_data": {"keyframes": [{"t": 0, "x": 0.4}]}})
    framing = (await client.post(f"{path}/exports", json={"type": "framing"})).json()
    await client.post(f"/v1/exports/{framing['id']}/succeed", json={"output_uri": "s3://renders/v1.mp4"})
    wrong = (await client.post(f"{path}/exports", json={"type": "overlay"})).json()
    await client.post(f"/v1/exports/{wrong['id']}/cancel", json={"reason": "Wrong music track"})
    overlay = (await client.post(f"{path}/exports", json={"type": "overlay"})).json()
    await client.post(
        f"/v1/exports/{overlay['id']}/succeed", json={"output_uri": "s3://renders/final-v1.mp4"}
    )
    project_id: str = project["id"]
    return project_id


async def test_the_inspector_follows_a_reframe(board_url: str, browser: Browser) -> None:
    async with httpx.AsyncClient(base_url=board_url) as client:
        project_id = await _a_project_with_a_past(client)
        await _complete_project(client, "Product launch teaser")
        page = await browser.new_page(viewport={"width": 1280, "height": 800})
        await page.goto(board_url)
        card = page.locator(f'[data-project-id="{project_id}"]')
        await expect(card.locator(".badge")).to_have_text("Complete")
        await expect(page.locator("#live")).to_have_attribute("data-state", "live")
        panel = page.locator("#inspector")
        await expect(panel).to_be_hidden()

        await card.locator(".name").click()
        await expect(panel).to_be_visible()
        await expect(page.locator("#inspector-close")).to_be_focused()
        await expect(page.locator("#inspector-title")).to_have_text("Surf trip — Portugal")
        current = panel.locator(".machine .state.current")
        await expect(current).to_have_attribute("data-state", "complete")
        await expect(panel.locator(".machine .state")).to_have_count(6)
        await expect(panel.locator('.machine .composite[data-composite="exporting"]')).to_have_count(1)
        await expect(panel.locator("#inspector-actions li")).to_have_text(
            ["Start framing → Framing…", "Start overlay → Overlay…"]
        )
        await expect(panel.locator(".machine .allowed-edge")).to_have_count(2)
        await _the_diagram_reads_in_workflow_order_and_says_its_arrows(page)
        timeline = panel.locator("#inspector-history li")
        await expect(timeline).to_have_count(8)
        cancelled = timeline.filter(has_text="Export cancelled")
        await expect(cancelled.locator(".reason")).to_have_text("Wrong music track")
        await expect(cancelled.locator(".move")).to_have_text("Overlay… → Framed")
        await expect(timeline.locator(".action")).to_have_text(
            [
                "Export succeeded",
                "Start overlay",
                "Export cancelled",
                "Start overlay",
                "Export succeeded",
                "Start framing",
                "Clip added",
                "Project created",
            ]
        )
        assert not re.search(r"[a-z]+_[a-z]+", await panel.inner_text()), "no API name is shown"

        job = (await client.post(f"/v1/projects/{project_id}/exports", json={"type": "framing"})).json()
        await expect(current).to_have_attribute("data-state", "exporting_framing")
        await expect(panel.locator(".machine .composite.current")).to_have_count(1)
        await expect(timeline).to_have_count(9)
        await expect(timeline.first).to_have_attribute("data-action", "start_framing_export")
        await expect(timeline.first.locator(".move")).to_have_text("Complete → Framing…")
        await expect(panel.locator("#inspector-actions li")).to_have_text(["Start overlay → Framing…"])
        await client.post(f"/v1/exports/{job['id']}/progress", json={"progress": 35, "message": "encoding"})
        await expect(card.locator(".export-percent")).to_have_text("35%")
        await expect(page.locator("#inspector-status")).to_contain_text("Framing…")
        if INSPECTOR_SCREENSHOT:
            await page.screenshot(path=INSPECTOR_SCREENSHOT)

        await page.keyboard.press("Escape")
        await expect(panel).to_be_hidden()
        await expect(card).to_be_focused()
        await page.keyboard.press("Enter")
        await expect(panel).to_be_visible()
        await expect(current).to_have_attribute("data-state", "exporting_framing")
        await expect(timeline).to_have_count(9)
        await client.post(f"/v1/exports/{job['id']}/fail", json={"error": "disk full"})
        await expect(current).to_have_attribute("data-state", "complete")
        await expect(timeline.first.locator(".reason")).to_have_text("disk full")
        await page.keyboard.press("Escape")
        await expect(panel).to_be_hidden()


async def _document_cookie(page: Page) -> str:
    cookie: str = await page.evaluate("document.cookie")
    return cookie


async def test_the_board_s_token_is_out_of_reach_of_page_scripts(secured_url: str, browser: Browser) -> None:
    alice = token("alice")
    async with httpx.AsyncClient(
        base_url=secured_url, headers={"Authorization": f"Bearer {alice}"}
    ) as client:
        await client.post("/v1/projects", json={"name": "Before"})
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(secured_url)
    await sign_in(page, alice)
    await expect(page.locator(".card")).to_have_count(1)
    await expect(page.locator("#live")).to_have_attribute("data-state", "live")
    assert alice not in await _document_cookie(page)
    assert "framestate_token" not in await _document_cookie(page)
    (stored,) = [c for c in await context.cookies() if c["name"] == "framestate_token"]
    assert (stored["value"], stored["httpOnly"], stored["sameSite"], stored["path"]) == (
        alice,
        True,
        "Strict",
        "/",
    )

    await page.locator("#new-name").fill("Made on the board")
    await page.locator("#new-project button").click()
    await expect(page.locator(".card")).to_have_count(2)

    await page.reload()
    await expect(page.locator("#live")).to_have_attribute("data-state", "live")
    assert "framestate_token" not in await _document_cookie(page)
    async with httpx.AsyncClient(
        base_url=secured_url, headers={"Authorization": f"Bearer {alice}"}
    ) as client:
        await client.post("/v1/projects", json={"name": "After the reload"})
    await expect(page.locator(".name", has_text="After the reload")).to_have_count(1)
    await context.close()


@pytest.fixture
def capped_url(sqlite_url: str) -> Iterator[str]:
    env = {"FRAMESTATE_JWT_SECRET": SECRET, "FRAMESTATE_MAX_STREAMS": "4"}
    with running_server(sqlite_url, extra_env=env) as base_url:
        yield base_url


async def test_a_reload_storm_does_not_trip_the_stream_cap(capped_url: str, browser: Browser) -> None:
    """30 reloads in a row, with a cap of 4 streams: each reload gives its stream back."""
    alice = token("alice")
    page = await browser.new_page()
    await page.goto(capped_url)
    await sign_in(page, alice)
    refused: list[str] = []
    page.on("response", lambda response: refused.append(response.url) if response.status == 429 else None)
    await expect(page.locator("#live")).to_have_attribute("data-state", "live")
    for _ in range(30):
        await page.reload()
    await expect(page.locator("#live")).to_have_attribute("data-state", "live", timeout=10_000)
    async with httpx.AsyncClient(base_url=capped_url, headers={"Authorization": f"Bearer {alice}"}) as client:
        project = (await client.post("/v1/projects", json={"name": "After the storm"})).json()
        card = page.locator(f'[data-project-id="{project["id"]}"]')
        await expect(card.locator(".badge")).to_have_text("Not Started")
        await client.post(f"/v1/projects/{project['id']}/clips", json={"crop_data": {}})
        await expect(card.locator(".badge")).to_have_text("In Progress")
    assert refused == [], "no stream of the board was refused"


async def test_the_board_reconnects_by_itself_to_the_server_that_answers_next(
    sqlite_url: str, browser: Browser
) -> None:
    port = free_port()
    page = await browser.new_page()
    with server_process(sqlite_url, port=port) as before:
        await page.goto(before.url)
        await expect(page.locator("#live")).to_have_attribute("data-state", "live")
        before.process.terminate()  # SIGTERM: the board's stream ends with the process
        assert before.process.wait(30) == 0
    await expect(page.locator("#live")).not_to_have_attribute("data-state", "live")
    with server_process(sqlite_url, port=port) as after:
        await expect(page.locator("#live")).to_have_attribute("data-state", "live", timeout=20_000)
        async with httpx.AsyncClient(base_url=after.url) as client:
            project = (await client.post("/v1/projects", json={"name": "Made after the restart"})).json()
        card = page.locator(f'[data-project-id="{project["id"]}"]')
        await expect(card.locator(".badge")).to_have_text("Not Started", timeout=10_000)

"""`@framestate/client` in a real browser: a page at framestate's own origin opens the session with
a token once, as a sign-in would, then the client (its ESM build, loaded through an import map,
no bundler) creates and changes a project and follows it live with the HttpOnly cookie alone."""

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
from playwright.async_api import Browser, Route

from tests.typescript import CLIENT, TOOLS, Service, node_or_skip, run, secured_service

pytestmark = pytest.mark.anyio
PAGE = """<!doctype html>
<meta charset="utf-8">
<title>A page of the app</title>
<script type="importmap">
{"imports": {"openapi-fetch": "/app/openapi-fetch.mjs", "@framestate/client": "/app/dist/index.js"}}
</script>
"""
NOT_SIGNED_IN = """async () => {
  const { createFramestate } = await import("@framestate/client");
  const { error, response } = await createFramestate({ baseUrl: "" }).GET("/v1/projects");
  return [response.status, error.code];
}"""
SIGN_IN = """async (token) => {
  const headers = { Authorization: `Bearer ${token}` };
  const answer = await fetch("/v1/session", { method: "POST", headers });
  return [answer.status, document.cookie];
}"""
FOLLOW_A_CANCELLED_EXPORT = """async () => {
  const { createFramestate, followProject, unwrap } = await import("@framestate/client");
  const api = createFramestate({ baseUrl: "" });
  const project = await unwrap(api.POST("/v1/projects", { body: { name: "In Chromium" } }));
  const path = { project_id: project.id };
  await unwrap(api.POST("/v1/projects/{project_id}/clips", { params: { path }, body: { crop_data: {} } }));
  const cards = [];
  let live, failed, check = () => {};
  const failure = new Promise((_, reject) => (failed = reject));
  const isLive = new Promise((resolve) => (live = resolve));
  const follow = followProject({
    baseUrl: "",
    id: project.id,
    onCard: (card) => (cards.push([card.status, card.version]), check()),
    onLive: () => live(),
    onError: (error) => failed(error),
  });
  const within = (promise, what) => {
    const late = new Promise((_, reject) => setTimeout(() => reject(new Error(what())), 10000));
    return Promise.race([promise, failure, late]);
  };
  const cardsSeen = (n) => {
    const enough = new Promise((resolve) => (check = () => cards.length >= n && resolve()));
    check();
    return within(enough, () => `${n} cards awaited, seen: ${JSON.stringify(cards)}`);
  };
  await within(isLive, () => "the stream did not go live");
  await cardsSeen(1);
  const start = { params: { path }, body: { type: "framing" } };
  const job = await unwrap(api.POST("/v1/projects/{project_id}/exports", start));
  await cardsSeen(2); // the service may fold changes that arrive while a card loads: one at a time
  await unwrap(api.POST("/v1/exports/{job_id}/cancel", { params: { path: { job_id: job.id } } }));
  await cardsSeen(3);
  follow.close();
  return cards;
}"""


@pytest.fixture
def service(sqlite_url: str) -> Iterator[Service]:
    with secured_service(sqlite_url) as service:
        yield service


@pytest.fixture
def scripts(tmp_path: Path) -> dict[str, str]:
    """The page's modules by their path under /app/: the client built as `npm run build` builds it
    (into a folder of this test's own), and openapi-fetch."""
    node_or_skip()
    run(TOOLS / "tsc", "-p", "tsconfig.build.json", "--outDir", tmp_path / "dist")
    modules = {f"dist/{module.name}": module.read_text() for module in (tmp_path / "dist").glob("*.js")}
    openapi_fetch = CLIENT / "node_modules" / "openapi-fetch" / "dist" / "index.mjs"
    modules["openapi-fetch.mjs"] = openapi_fetch.read_text()
    return modules


async def test_the_client_in_a_page_with_the_session_cookie(
    service: Service, scripts: dict[str, str], browser: Browser
) -> None:
    async def serve(route: Route) -> None:
        name = urlparse(route.request.url).path.removeprefix("/app/")
        if name == "":
            await route.fulfill(body=PAGE, content_type="text/html")
        elif name in scripts:
            await route.fulfill(body=scripts[name], content_type="text/javascript")
        else:
            await route.fulfill(status=404)

    page = await browser.new_page()
    await page.route(f"{service.url}/app/**", serve)
    await page.goto(f"{service.url}/app/")
    assert await page.evaluate(NOT_SIGNED_IN) == [401, "unauthorized"]
    assert await page.evaluate(SIGN_IN, service.tokens["browser"]) == [204, ""]
    assert await page.evaluate(FOLLOW_A_CANCELLED_EXPORT) == [
        ["in_progress", 2],
        ["exporting_framing", 3],
        ["in_progress", 4],
    ]

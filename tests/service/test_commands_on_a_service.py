"""The commands that talk to a running service (`simulate-export`, `demo`, `watch-webhooks`), run as a
user runs them: what they say when the service is away or goes away, when a token is missing or of
the wrong role, when Ctrl-C stops them; and that an export they started never stays behind them."""

import os
import pty
import sys
import warnings
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from bench.servers import free_port
from service.http.auth import Role, mint_token
from tests.auth import SECRET, token
from tests.commands import CLI, INTERRUPTED, assert_said, environment, interrupt, run, started, wait_for_line
from tests.servers import LOOPBACK_ONLY, ROOT, running_server, server_process

REFUSED, TOKEN, NO_SERVICE = 1, 3, 4
ALICE, RENDERER = token("alice"), token("renderer", Role.WORKER)


@pytest.fixture(scope="module")
def open_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A service with auth off that may send webhooks to this machine."""
    database = tmp_path_factory.mktemp("open") / "framestate.db"
    env = {"FRAMESTATE_WEBHOOK_ALLOW_NETWORKS": LOOPBACK_ONLY}
    with running_server(f"sqlite+aiosqlite:///{database}", extra_env=env) as url:
        yield url


@pytest.fixture(scope="module")
def secured_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    database = tmp_path_factory.mktemp("secured") / "framestate.db"
    with running_server(
        f"sqlite+aiosqlite:///{database}", extra_env={"FRAMESTATE_JWT_SECRET": SECRET}
    ) as url:
        yield url


def _project(url: str, bearer: str | None = None, *, framed: bool = True) -> str:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    with httpx.Client(base_url=url, headers=headers) as client:
        project = client.post("/v1/projects", json={"name": "Surf trip"}).json()
        if framed:
            client.post(f"/v1/projects/{project['id']}/clips", json={"crop_data": {"keyframes": []}})
        return str(project["id"])


def _card(url: str, project_id: str, bearer: str | None = None) -> dict[str, object]:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    card: dict[str, object] = httpx.get(f"{url}/v1/projects/{project_id}", headers=headers).json()
    return card


def _last_job(url: str, project_id: str, bearer: str | None = None) -> dict[str, object]:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    job: dict[str, object] = httpx.get(f"{url}/v1/projects/{project_id}/exports", headers=headers).json()[0]
    return job


@pytest.mark.parametrize(
    "command", [("simulate-export", "0" * 32, "--type", "framing"), ("demo",), ("watch-webhooks",)]
)
def test_with_no_service_running_each_says_so(command: tuple[str, ...]) -> None:
    result = run(*command, "--url", f"http://127.0.0.1:{free_port()}")
    assert_said(result, NO_SERVICE, "nothing answers at http://127.0.0.1:", "make run")


def test_with_auth_on_a_missing_token_is_named_with_its_role(secured_url: str) -> None:
    project_id = _project(secured_url, ALICE)
    result = run("simulate-export", project_id, "--type", "framing", "--url", secured_url)
    assert_said(result, TOKEN, "has auth on", "client token", "--token", "--role client")
    result = run("simulate-export", project_id, "--type", "framing", "--url", secured_url, "--token", ALICE)
    assert_said(result, TOKEN, "worker token", "--worker-token", "--role worker")
    assert _card(secured_url, project_id, ALICE)["is_exporting"] is False


@pytest.mark.parametrize(
    ("tokens", "words"),
    [
        ((ALICE, ALICE), ("--worker-token", "it is a client token")),
        ((RENDERER, RENDERER), ("--token", "it is a worker token")),
    ],
    ids=["client-as-worker", "worker-as-client"],
)
def test_a_token_of_the_wrong_role_is_refused_before_anything_starts(
    secured_url: str, tokens: tuple[str, str], words: tuple[str, ...]
) -> None:
    project_id = _project(secured_url, ALICE)
    client, worker = tokens
    result = run(
        *("simulate-export", project_id, "--type", "framing", "--url", secured_url),
        *("--token", client, "--worker-token", worker),
    )
    assert_said(result, TOKEN, *words)
    assert _card(secured_url, project_id, ALICE)["is_exporting"] is False


def test_a_report_refused_midway_ends_the_export_it_started(secured_url: str) -> None:
    """The worker's token runs out mid-export: the export is cancelled, saying why."""
    project_id = _project(secured_url, ALICE)
    short_lived = mint_token(SECRET, "renderer", Role.WORKER, timedelta(seconds=2))
    result = run(
        *("simulate-export", project_id, "--type", "framing", "--url", secured_url, "--seconds", "4"),
        *("--token", ALICE, "--worker-token", short_lived),
    )
    assert_said(result, TOKEN, "refused a report", "expired", "cancelled")
    job = _last_job(secured_url, project_id, ALICE)
    assert job["status"] == "cancelled"
    assert "a report was refused" in str(job["cancel_reason"])
    assert _card(secured_url, project_id, ALICE)["is_exporting"] is False


def test_ctrl_c_cancels_the_export_it_started(open_url: str) -> None:
    project_id = _project(open_url)
    refused = run("simulate-export", project_id, "--type", "overlay", "--url", open_url)
    assert_said(refused, REFUSED, "refused the export", "transition_not_allowed")
    with started(
        "simulate-export", project_id, "--type", "framing", "--url", open_url, "--seconds", "30"
    ) as sim:
        wait_for_line(sim, "%")
        result = interrupt(sim)
    assert_said(result, INTERRUPTED, "interrupted")
    assert "cancelled" in result[1]
    job = _last_job(open_url, project_id)
    assert (job["status"], job["cancel_reason"]) == ("cancelled", "simulate-export was interrupted (Ctrl-C)")


def test_a_service_that_goes_away_midway_is_said_in_a_line(sqlite_url: str) -> None:
    with server_process(sqlite_url) as server:
        project_id = _project(server.url)
        with started(
            "simulate-export", project_id, "--type", "framing", "--url", server.url, "--seconds", "30"
        ) as sim:
            wait_for_line(sim, "%")
            server.process.terminate()
            server.process.wait(15)
            out, err = sim.communicate(timeout=30)
    assert_said((sim.returncode, out, err), NO_SERVICE, "stopped answering", "stays active")


def test_asked_on_a_terminal_the_prompts_name_each_role(secured_url: str) -> None:
    project_id = _project(secured_url, ALICE)
    args = [
        *CLI,
        "simulate-export",
        project_id,
        "--type",
        "framing",
        "--url",
        secured_url,
        "--seconds",
        "0.4",
    ]
    with warnings.catch_warnings():  # the child does nothing but exec
        warnings.simplefilter("ignore", DeprecationWarning)
        pid, terminal = pty.fork()
    if pid == 0:  # the child: the command, with the terminal as its own
        os.chdir(ROOT)
        os.execve(sys.executable, args, environment())
    said = b""
    for answer, role in ((ALICE, b"client token"), (RENDERER, b"worker token")):
        while role not in said:
            said += os.read(terminal, 1024)
        os.write(terminal, answer.encode() + b"\n")
    while True:
        try:
            chunk = os.read(terminal, 1024)
        except OSError:  # the command ended and closed the terminal
            break
        if not chunk:
            break
        said += chunk
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, said.decode()
    assert b"succeeded" in said
    assert ALICE.encode() not in said, "a token is not echoed"


def test_the_demo_shows_every_status_and_stops_its_exports_on_ctrl_c(open_url: str) -> None:
    with started("demo", "--url", open_url) as demo:
        lines = wait_for_line(demo, "Ctrl-C stops")
        assert any(f"{open_url}/" in line for line in lines), "it says where the board is"
        cards = httpx.get(f"{open_url}/v1/projects", params={"limit": 200}).json()["items"]
        statuses = {card["status"] for card in cards}
        assert statuses >= {
            "not_started",
            "in_progress",
            "framed",
            "exporting_framing",
            "exporting_overlay",
            "complete",
        }
        running = [card for card in cards if card["is_exporting"]]
        assert len(running) == 3
        result = interrupt(demo)
    assert_said(result, 0)
    assert "cancelled 3 exports" in result[1]
    after = httpx.get(f"{open_url}/v1/projects", params={"limit": 200}).json()["items"]
    assert not any(card["is_exporting"] for card in after)


def test_watch_webhooks_prints_each_delivery_and_deletes_its_webhook(open_url: str) -> None:
    with started("watch-webhooks", "--url", open_url) as watching:
        wait_for_line(watching, "Ctrl-C deletes")
        httpx.post(f"{open_url}/v1/projects", json={"name": "Wedding highlights"})
        line = wait_for_line(watching, "project.created")[-1]
        assert "Wedding highlights" in line
        assert "signature ok" in line
        result = interrupt(watching)
    assert_said(result, 0)
    assert "deleted" in result[1]
    assert httpx.get(f"{open_url}/v1/webhooks").json() == []


def test_watch_webhooks_says_what_the_service_must_allow(secured_url: str) -> None:
    result = run("watch-webhooks", "--url", secured_url, "--token", ALICE)
    assert_said(
        result, 2, "refused a webhook to this machine", "FRAMESTATE_WEBHOOK_ALLOW_NETWORKS=127.0.0.0/8"
    )

"""Where a webhook may send: only public addresses (or an allowlist), never what a name resolves to
behind the check's back, and a refusal that does not tell what a name resolved to."""

import ipaddress
import itertools
import socket
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from service.http.app import create_app
from service.settings import Settings
from service.webhooks import urls
from tests.api import Api
from tests.receiver import receiving

pytestmark = pytest.mark.anyio
NOT_PUBLIC = [
    "100.100.100.200",  # shared address space: a cloud's metadata service
    "100.64.0.1",
    "192.0.0.8",
    "192.0.0.170",
    "168.63.129.16",  # Azure's platform address
    "169.254.169.254",
    "10.1.2.3",
    "127.0.0.1",
    "0.0.0.0",
    "224.0.0.1",
    "240.0.0.1",
    "255.255.255.255",
    "::1",
    "::",
    "fe80::1",
    "fd00::1",
    "ff02::1",
    "::ffff:10.0.0.1",  # IPv4-mapped
    "::ffff:100.100.100.200",
    "2002:a00:1::1",  # 6to4 of 10.0.0.1
    "2002:a9fe:a9fe::",  # 6to4 of 169.254.169.254
    "2002:6464:64c8::1",  # 6to4 of 100.100.100.200
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b:1::a00:1",  # local-use NAT64 of 10.0.0.1
    "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo, its client 10.0.0.1
]
PUBLIC = ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "2002:808:808::1"]


@pytest.mark.parametrize("address", NOT_PUBLIC)
def test_addresses_that_lead_inside_a_network_are_not_public(address: str) -> None:
    assert not urls.is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_public(address: str) -> None:
    assert urls.is_public(ipaddress.ip_address(address))


def _host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


@pytest.fixture
async def guarded(settings: Settings) -> AsyncIterator[Api]:
    """The service as it ships: no private address allowed, no allowlist."""
    async with AsyncTestClient(app=create_app(settings)) as client:
        yield Api(client)


@pytest.mark.parametrize("address", NOT_PUBLIC)
async def test_a_url_of_such_an_address_is_refused(guarded: Api, address: str) -> None:
    body = {"url": f"http://{_host(address)}:8080/hook", "events": ["project.created"]}
    problem = await guarded.json("POST", "/v1/webhooks", 400, json=body)
    assert problem["code"] == "validation_error"
    assert (await guarded.call("GET", "/v1/webhooks", 200)).json() == []


async def test_a_refusal_does_not_say_what_a_name_resolved_to(guarded: Api) -> None:
    body = {"url": "http://localhost:8080/hook", "events": ["project.created"]}
    problem = await guarded.json("POST", "/v1/webhooks", 400, json=body)
    said = str(problem)
    assert "localhost" in said
    assert "127.0.0.1" not in said
    assert "::1" not in said


async def _allowing(settings: Settings, **changes: Any) -> AsyncIterator[Api]:
    async with AsyncTestClient(app=create_app(replace(settings, **changes))) as client:
        yield Api(client)


@pytest.mark.parametrize("allow_private", [False, True])
async def test_the_allowlist_is_the_rule_when_set(settings: Settings, allow_private: bool) -> None:
    async for api in _allowing(
        settings, webhook_allow_networks=("127.0.0.1/32",), webhook_allow_private=allow_private
    ):
        events = ["project.created"]
        await api.call("POST", "/v1/webhooks", 201, json={"url": "http://127.0.0.1:9/hook", "events": events})
        for url in ("http://127.0.0.2:9/hook", "http://10.0.0.1/hook", "http://8.8.8.8/hook"):
            problem = await api.json("POST", "/v1/webhooks", 400, json={"url": url, "events": events})
            assert "FRAMESTATE_WEBHOOK_ALLOW_NETWORKS" in problem["detail"]
        assert len((await api.call("GET", "/v1/webhooks", 200)).json()) == 1


NAME = "rebinding.framestate.test"


async def test_a_name_that_rebinds_reaches_only_the_address_it_was_checked_at(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The name answers 127.0.0.1 (allowed) and 127.0.0.2 (not) in turn, at every look-up, and the
    system's resolver answers 127.0.0.2 for it: a delivery that looked the name up again after its
    check, or let the HTTP client resolve it, would reach the listener on 127.0.0.2."""
    answers = itertools.cycle([ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("127.0.0.2")])
    resolutions: list[str] = []

    async def flipping(host: str, port: int) -> list[urls.IPAddress]:
        assert host == NAME
        resolutions.append(str(answer := next(answers)))
        return [answer]

    system = socket.getaddrinfo

    def system_says_private(host: Any, *args: Any, **kwargs: Any) -> Any:
        return system("127.0.0.2" if host == NAME else host, *args, **kwargs)

    monkeypatch.setattr(urls, "resolve", flipping)
    monkeypatch.setattr(socket, "getaddrinfo", system_says_private)
    async with (
        receiving() as checked,
        receiving(host="127.0.0.2", port=checked.port) as forbidden,
    ):
        changes = {"webhook_allow_networks": ("127.0.0.1/32",), "webhook_retry_base_s": 0.02}
        async for api in _allowing(settings, **changes):
            body = {"url": f"http://{NAME}:{checked.port}/hook", "events": ["project.created"]}
            await api.call("POST", "/v1/webhooks", 201, json=body)
            for n in range(6):
                await api.create_project(f"Rebound {n}")
            await checked.wait_until(lambda r: len(r.acknowledged()) == 6)
    assert forbidden.received == []
    assert {request.headers["host"] for request in checked.received} == {f"{NAME}:{checked.port}"}
    assert "127.0.0.2" in resolutions  # the name did rebind while deliveries were attempted

"""Which addresses a webhook may call, and the one resolution of its host that each attempt connects to.

A URL is http or https and names a host. Unless private addresses are allowed, every address the
host is or resolves to must be globally routable: Python's `is_global`, and none of the ranges it
lets through that still lead inside a network (shared address space, the IETF protocol block,
Azure's platform address), nor an IPv6 address that wraps such an IPv4 (mapped, 6to4, NAT64,
Teredo). `FRAMESTATE_WEBHOOK_ALLOW_NETWORKS`, when set, is an allowlist that replaces that rule.

A name is resolved once per check, and an attempt connects to the address that was checked (see
`service.webhooks.transport`), so a name whose answer changes between the check and the
connection (DNS rebinding) cannot lead a delivery anywhere the check refused. A refusal never says
what a name resolved to: that would let a client map the service's own network.
"""

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

import httpx

from service.errors import ValidationFailed
from service.settings import Network, Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
NOT_PUBLIC_V4 = tuple(
    ipaddress.IPv4Network(cidr)
    for cidr in (
        "100.64.0.0/10",  # shared address space (carrier-grade NAT; some clouds' metadata services)
        "192.0.0.0/24",  # IETF protocol assignments
        "168.63.129.16/32",  # Azure's platform address (metadata, health, DNS)
    )
)
NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries to its destination, if it carries one."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if any(address in prefix for prefix in NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        inner = embedded_ipv4(address)
        if inner is not None and not is_public(inner):
            return False
    elif any(address in network for network in NOT_PUBLIC_V4):
        return False
    return address.is_global and not (
        address.is_multicast or address.is_reserved or address.is_private or address.is_loopback
    )


@dataclass(frozen=True, slots=True)
class TargetRule:
    """What a webhook may call, from the settings."""

    allow_private: bool = False
    allow_networks: tuple[Network, ...] | None = None

    @classmethod
    def of(cls, settings: Settings) -> "TargetRule":
        return cls(settings.webhook_allow_private, settings.networks_allowed())

    def allows(self, address: IPAddress) -> bool:
        if self.allow_networks is not None:
            return any(address.version == net.version and address in net for net in self.allow_networks)
        return self.allow_private or is_public(address)

    def refusal(self, host: str) -> str:
        if self.allow_networks is not None:
            return (
                f"url's host {host!r} is not, or does not resolve only to, an address inside "
                "FRAMESTATE_WEBHOOK_ALLOW_NETWORKS."
            )
        return (
            f"url's host {host!r} is or resolves to an address webhooks may not call (loopback, "
            "private, link-local, shared, reserved or otherwise not public)."
        )


@dataclass(frozen=True, slots=True)
class Target:
    """A webhook URL taken apart: what an attempt connects to, and what it names."""

    url: str
    scheme: str
    host: str
    """The URL's host, as the receiver expects it in `Host` and in TLS SNI."""
    port: int
    address: IPAddress
    """The address that was checked: the attempt connects here and nowhere else."""


def parse(url: str) -> tuple[SplitResult, str, int]:
    try:
        parts = urlsplit(url)
        port = parts.port
        host = parts.hostname
        httpx.URL(url)
    except (ValueError, httpx.InvalidURL):
        raise ValidationFailed(f"url is not a valid URL: {url!r}.") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValidationFailed("url must be an http or https URL.")
    if not host or any(c.isspace() or not c.isprintable() for c in url):
        raise ValidationFailed("url must name a host, with no white space or control characters.")
    return parts, host, port or (443 if parts.scheme.lower() == "https" else 80)


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` is or resolves to, now (the system's resolver, off the event loop)."""
    try:
        return [ipaddress.ip_address(host.split("%", 1)[0])]
    except ValueError:
        pass
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


async def checked_target(url: str, rule: TargetRule) -> Target:
    """The URL's target, resolved once and checked: 400 `validation_error` when the URL is not one
    a webhook may call now."""
    parts, host, port = parse(url)
    try:
        addresses = await resolve(host, port)
    except (OSError, UnicodeError):
        raise ValidationFailed(f"url's host {host!r} does not resolve.") from None
    if not addresses or not all(rule.allows(address) for address in addresses):
        raise ValidationFailed(rule.refusal(host))
    return Target(url, parts.scheme.lower(), host, port, addresses[0])


async def check_url(url: str, rule: TargetRule) -> None:
    """Refuse (400 `validation_error`) a URL a webhook may not be made for. Where private
    addresses are allowed and no allowlist is set, any host will do, and none is looked up: a name
    of a closed network may resolve only where the deliveries go out."""
    if rule.allow_private and rule.allow_networks is None:
        parse(url)
        return
    await checked_target(url, rule)

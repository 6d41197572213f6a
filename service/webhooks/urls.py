"""Which URLs a webhook may point at: http or https, and, unless private addresses are allowed, a
host that is and resolves only to public addresses (no loopback, private, link-local, unspecified,
multicast or reserved one), so the service cannot be made to call into its own network."""

import asyncio
import ipaddress
import socket
from urllib.parse import SplitResult, urlsplit

import httpx

from service.errors import ValidationFailed

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_unspecified
        or address.is_multicast
        or address.is_reserved
    )


def _parse(url: str) -> tuple[SplitResult, str, int]:
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


async def _addresses(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host.split("%", 1)[0])]
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise ValidationFailed(f"url's host {host!r} does not resolve.") from None
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


async def check_url(url: str, *, allow_private: bool) -> None:
    """Refuse (400 validation_error) a URL a webhook may not point at."""
    _parts, host, port = _parse(url)
    if allow_private:
        return
    for address in await _addresses(host, port):
        if not is_public(address):
            raise ValidationFailed(
                f"url's host {host!r} is or resolves to {address}, a loopback, private, link-local or "
                "unspecified address; webhooks may only call public addresses."
            )

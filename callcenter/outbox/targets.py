"""Where webhooks may go: http(s) URLs whose every address is public, unless allowed.

Loopback, link-local (cloud metadata at 169.254.169.254), private, shared (CGNAT), multicast,
reserved and unspecified addresses are refused unless an admin allowed private targets (the
`webhook_allow_private_targets` setting, or a subscription's `allow_private`). The name is
resolved when the subscription is saved and again before each delivery, so a name that
later points inside is caught then (a resolver could still answer differently to the
connection itself a moment later; an egress firewall is the complete answer).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit


class UnsafeTarget(ValueError):
    """The URL may not be a webhook target; the message says why."""


def address_refused(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why an address is not public (None: it is)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for what, flag in (("loopback", address.is_loopback), ("link-local", address.is_link_local),
                       ("unspecified", address.is_unspecified),
                       ("multicast", address.is_multicast), ("reserved", address.is_reserved),
                       ("private", address.is_private),
                       ("shared (carrier-grade NAT)", not address.is_global)):
        if flag:
            article = "an" if what[0] in "aeiou" else "a"
            return f"{article} {what} address ({address})"
    return None


def split_target(url: str) -> tuple[str, int]:
    """The host and port of a webhook URL; UnsafeTarget when it is no http(s) URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeTarget(f"not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise UnsafeTarget("only http and https URLs")
    if not parts.hostname:
        raise UnsafeTarget("the URL names no host")
    if parts.username or parts.password:
        raise UnsafeTarget("credentials in the URL are not kept secret: use the secret")
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


async def check_target(url: str, *, allow_private: bool, resolve_timeout: float = 5.0) -> None:
    """Raises UnsafeTarget when the URL is malformed, does not resolve, or (unless allowed)
    any of its addresses is not public."""
    host, port = split_target(url)
    if allow_private:
        return
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            async with asyncio.timeout(resolve_timeout):
                infos = await asyncio.get_running_loop().getaddrinfo(
                    host, port, type=socket.SOCK_STREAM)
        except (OSError, TimeoutError, UnicodeError) as exc:  # UnicodeError: no IDNA name
            raise UnsafeTarget(f"the host {host!r} does not resolve ({exc})") from None
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    for address in addresses:
        why = address_refused(address)
        if why is not None:
            raise UnsafeTarget(f"{host} is {why}: private targets need an admin's explicit "
                               "allow_private")

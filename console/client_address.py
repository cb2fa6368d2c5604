"""The client's address behind reverse proxies: what the sign-in throttle counts and the
audit log records.

Only a connection from a configured ``[console] trusted_proxies`` entry is believed about
``X-Forwarded-For``; then the client is the right-most address in that header that is not a
trusted proxy itself (each proxy appends the address it saw, so everything left of the first
untrusted hop was written by the client and proves nothing). Without trusted proxies, or from
any other peer, the header is ignored: anyone could send it.

This module does not parse ``Forwarded`` (RFC 7239) or ``X-Real-IP``; the documented nginx
snippet sets ``X-Forwarded-For``.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_HOPS = 32  # a header longer than this is not from a sane chain of proxies
MAX_ADDRESS = 64  # the width of the address columns (sessions, throttle, audit)


@functools.lru_cache(maxsize=16)
def networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    """The configured proxies as networks (validated at start by ``bot/config.py``)."""
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def _trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 from a dual-stack socket
    return any(ip in net for net in trusted if net.version == ip.version)


def address_of(peer: str | None, forwarded_for: Iterable[str], trusted: Sequence[Network]) -> str:
    """The client's address, given the connection's peer and the X-Forwarded-For headers."""
    peer = peer or "unknown"
    if not trusted or not _trusted(peer, trusted):
        return peer[:MAX_ADDRESS]
    hops = [h.strip() for header in forwarded_for for h in header.split(",")][-MAX_HOPS:]
    client = peer
    for hop in reversed(hops):
        if not hop:
            continue
        client = hop
        if not _trusted(hop, trusted):
            break
    return client[:MAX_ADDRESS]

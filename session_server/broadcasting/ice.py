"""Which host addresses the server offers as ICE candidates.

aioice gathers every address of every interface except 127.0.0.1. KENGASH_ICE_HOSTS
names them instead: the public address of a server behind NAT, or 127.0.0.1 for tests
and benchmarks on one machine."""

from __future__ import annotations

import aioice.ice


def offer_host_addresses(hosts: list[str]) -> None:
    """From now on, this process offers exactly `hosts` (an empty list: aioice's own)."""
    if not hosts:
        return
    chosen = list(hosts)

    def host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [h for h in chosen if (":" in h and use_ipv6) or (":" not in h and use_ipv4)]

    aioice.ice.get_host_addresses = host_addresses

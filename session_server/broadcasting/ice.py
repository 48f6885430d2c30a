"""ICE: which host addresses the server offers as candidates, and which STUN and TURN
servers it and its peers use.

aioice gathers every address of every interface except 127.0.0.1. KENGASH_ICE_HOSTS
names them instead: the public address of a server behind NAT, or 127.0.0.1 for tests
and benchmarks on one machine.

KENGASH_ICE_SERVERS names the STUN and TURN servers. A WHIP or WHEP answer announces
them as `Link: <url>; rel="ice-server"` headers (RFC 9725 section 4.6), TURN ones with
a username and credential; the server's own peer connections use the same (through TURN
the server is reachable even from a private network, see docs/operations.md)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass

import aioice.ice
from aiortc import RTCIceServer

from session_server.settings import Settings

# The name in coturn's time-limited usernames (`expiry:name`): coturn only checks the
# expiry and the HMAC, the name shows in its log.
TURN_USER = "kengash"


@dataclass(frozen=True, slots=True)
class IceServer:
    url: str
    username: str | None = None
    credential: str | None = None

    @property
    def link(self) -> str:
        """This server as an RFC 8288 link-value of relation `ice-server`."""
        value = f'<{self.url}>; rel="ice-server"'
        if self.username is not None and self.credential is not None:
            value += (
                f"; username={_quoted(self.username)}; credential={_quoted(self.credential)}"
                '; credential-type="password"'
            )
        return value


def ice_servers(settings: Settings, now: float | None = None) -> list[IceServer]:
    """KENGASH_ICE_SERVERS, TURN ones with credentials: from coturn's shared secret (the
    TURN REST scheme: username `expiry:kengash`, password base64(HMAC-SHA1(secret,
    username))), valid for KENGASH_TURN_TTL_SECONDS from `now`; else the fixed ones."""
    urls = [u.strip() for u in settings.ice_servers.split(",") if u.strip()]
    username: str | None = None
    credential: str | None = None
    if settings.turn_secret is not None:
        expiry = int(time.time() if now is None else now) + settings.turn_ttl_seconds
        username = f"{expiry}:{TURN_USER}"
        secret = settings.turn_secret.get_secret_value().encode()
        digest = hmac.new(secret, username.encode(), hashlib.sha1).digest()
        credential = base64.b64encode(digest).decode()
    elif settings.turn_username is not None and settings.turn_credential is not None:
        username = settings.turn_username
        credential = settings.turn_credential.get_secret_value()
    return [
        IceServer(url, username, credential) if url.startswith("turn") else IceServer(url)
        for url in urls
    ]


def ice_links(settings: Settings, now: float | None = None) -> list[str]:
    """The `Link` header values of a WHIP or WHEP answer: one per STUN or TURN server
    (send each as a header of its own; OBS reads them one a line)."""
    return [server.link for server in ice_servers(settings, now)]


def rtc_ice_servers(settings: Settings) -> list[RTCIceServer]:
    """The same servers for the server's own RTCPeerConnection (aiortc takes the first
    STUN and the first TURN server of the list)."""
    return [
        RTCIceServer(urls=s.url, username=s.username, credential=s.credential)
        for s in ice_servers(settings)
    ]


def _quoted(text: str) -> str:
    # An RFC 9110 quoted-string: a backslash before each quote and backslash.
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def offer_host_addresses(hosts: list[str]) -> None:
    """From now on, this process offers exactly `hosts` (an empty list: aioice's own)."""
    if not hosts:
        return
    chosen = list(hosts)

    def host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [h for h in chosen if (":" in h and use_ipv6) or (":" not in h and use_ipv4)]

    aioice.ice.get_host_addresses = host_addresses

"""Which WebSocket handshakes /ws takes: a browser's only from an allowed origin, and no
more sockets per client address than the cap. Pure bookkeeping, one instance per process.

Origin: a page on another site must not open a socket in its visitor's name (the
browser would send the visitor's `?token=` the page got hold of, or the socket would
read the public feed through the visitor's network). Browsers always send `Origin` on
a WebSocket handshake; scripts and native apps send none and are not refused for it.

Per address: one client must not hold the process's sockets. The chamber's tablets may
share one address behind NAT, so the cap is generous (KENGASH_WS_MAX_PER_ADDRESS)."""

from __future__ import annotations

from urllib.parse import urlsplit


def parse_origins(value: str) -> frozenset[str]:
    """`KENGASH_ALLOWED_ORIGINS`: comma-separated origins (`https://host[:port]`) or `*`."""
    return frozenset(_normal(part) for part in value.split(",") if part.strip())


def _normal(origin: str) -> str:
    return origin.strip().rstrip("/").lower()


def origin_allowed(origin: str | None, host: str | None, allowed: frozenset[str]) -> bool:
    """No Origin (not a browser), an allowed one, or the server's own: the Origin's
    host:port equals the Host the browser connected to. Caddy passes Host through, so
    this holds behind the TLS proxy as well."""
    if origin is None:
        return True
    if "*" in allowed or _normal(origin) in allowed:
        return True
    try:
        netloc = urlsplit(origin.strip()).netloc
    except ValueError:  # a malformed Origin (an unclosed IPv6 bracket, say) is no origin
        return False
    # "null" (a sandboxed frame, a file:// page) has no host and is never the server's own.
    return bool(netloc) and host is not None and netloc.lower() == host.strip().lower()


class AddressSlots:
    """Open sockets per client address, at most `limit` each."""

    __slots__ = ("_open", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: dict[str, int] = {}

    def take(self, address: str) -> bool:
        """A slot for one more socket from `address`, or False when it has `limit`."""
        held = self._open.get(address, 0)
        if held >= self.limit:
            return False
        self._open[address] = held + 1
        return True

    def give_back(self, address: str) -> None:
        held = self._open.get(address, 0) - 1
        if held > 0:
            self._open[address] = held
        else:
            self._open.pop(address, None)  # no entry kept for an address gone quiet

    def held(self, address: str) -> int:
        return self._open.get(address, 0)

    def __len__(self) -> int:
        """How many addresses hold a slot."""
        return len(self._open)


class Admission:
    """The process's admission rules for /ws, built once from the settings."""

    __slots__ = ("origins", "slots")

    def __init__(self, allowed_origins: str, max_per_address: int) -> None:
        self.origins = parse_origins(allowed_origins)
        self.slots = AddressSlots(max_per_address)

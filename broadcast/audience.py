"""How many watch a sitting: players counted by what they fetch. Pure: times are passed in.

An HLS player fetches the live playlist about once a segment, so the players of a sitting
are the distinct clients (address and user agent, hashed by the caller) that fetched it
within the last WINDOW seconds. Behind a CDN the server sees the CDN's fetches only:
there, this counts the CDN's edges and the CDN's own figures tell the audience. WHEP
viewers are counted where their connections are (the egress); this only adds them up."""

from __future__ import annotations

from dataclasses import dataclass

# A few playlist intervals: a player that missed one fetch is still watching.
WINDOW = 10.0
# Clients remembered per sitting: beyond it the count says "at least this many".
MAX_CLIENTS = 100_000


@dataclass(frozen=True)
class Count:
    """A sitting's audience: WebRTC (WHEP) viewers and HLS players."""

    webrtc: int
    hls: int

    @property
    def watching(self) -> int:
        return self.webrtc + self.hls


class HlsPlayers:
    """The HLS players of each sitting, from their playlist fetches."""

    def __init__(self, window: float = WINDOW, max_clients: int = MAX_CLIENTS) -> None:
        self.window = window
        self.max_clients = max_clients
        self._seen: dict[int, dict[str, float]] = {}

    def fetched(self, session: int, client: str, now: float) -> None:
        seen = self._seen.setdefault(session, {})
        if client not in seen and len(seen) >= self.max_clients:
            self._forget_old(session, now)
            seen = self._seen.setdefault(session, {})
            if len(seen) >= self.max_clients:
                return  # full of live players: counted as at most max_clients
        # Re-inserted, so the dict stays in the order of last fetch (oldest first).
        seen.pop(client, None)
        seen[client] = now

    def count(self, session: int, now: float) -> int:
        self._forget_old(session, now)
        return len(self._seen.get(session, ()))

    def sessions(self) -> list[int]:
        return list(self._seen)

    def _forget_old(self, session: int, now: float) -> None:
        seen = self._seen.get(session)
        if seen is None:
            return
        for client, at in list(seen.items()):
            if now - at < self.window:
                break  # the rest fetched later
            del seen[client]
        if not seen:
            del self._seen[session]

"""WHIP and WHEP resources (RFC 9725, draft-ietf-wish-whep) as a sans-I/O registry.

A POST to `/whip/{session}` or `/whep/{session}` creates a resource whose URL (the
`Location` of the 201) the client later DELETEs. This registry only keeps the books: who
publishes which sitting, who watches, the caps; the HTTP layer and the peer connections
act on what it returns. Pure: times (seconds on a monotonic clock) are passed in.

The rules: one publisher per sitting at a time, viewers many within the caps. When the
publisher's connection fails (`dropped`), its viewers stay for `publisher_grace` seconds so
that a reconnecting OBS or browser picks up the same audience; they end when the grace
runs out (`expire`), when the publisher DELETEs its resource (the broadcast was stopped),
or when the sitting's broadcast ends (`end`).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["whip", "whep"]


class ResourceError(Exception):
    """A refused request: `status` and `code` go into the HTTP problem response."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Resource:
    """A WHIP resource (`kind="whip"`, the publisher) or a WHEP one (a viewer)."""

    kind: Kind
    session: str
    id: str
    # Who authenticated the publisher (an ingest key id or a user id); None for a viewer.
    owner: str | None = None
    # The viewer's address, for the per-address cap; None for the publisher.
    address: str | None = None

    @property
    def location(self) -> str:
        return f"/{self.kind}/{self.session}/{self.id}"


@dataclass
class _Sitting:
    publisher: Resource | None = None
    # When the publisher's connection failed; None while one is live or none ever dropped.
    publisher_gone_at: float | None = None
    viewers: dict[str, Resource] = field(default_factory=dict)


class Resources:
    """The live resources of every sitting on this server."""

    def __init__(
        self, max_viewers_per_address: int, max_viewers: int, *, publisher_grace: float = 60.0
    ) -> None:
        # Both caps are for the whole server: the egress is one machine's, and an address
        # opening players on several sittings is the same load.
        self.max_viewers_per_address = max_viewers_per_address
        self.max_viewers = max_viewers
        self.publisher_grace = publisher_grace
        self._sittings: dict[str, _Sitting] = {}
        self._by_id: dict[str, Resource] = {}
        self._per_address: dict[str, int] = {}

    # --- queries ---

    def live(self, session: str) -> bool:
        s = self._sittings.get(session)
        return s is not None and s.publisher is not None

    def viewers(self, session: str) -> int:
        s = self._sittings.get(session)
        return len(s.viewers) if s is not None else 0

    def publisher(self, session: str) -> Resource | None:
        s = self._sittings.get(session)
        return s.publisher if s is not None else None

    def sessions(self) -> list[str]:
        """The sittings with a publisher or viewers."""
        return list(self._sittings)

    def get(self, resource_id: str) -> Resource | None:
        return self._by_id.get(resource_id)

    @property
    def total_viewers(self) -> int:
        return sum(self._per_address.values())

    def viewers_from(self, address: str) -> int:
        return self._per_address.get(address, 0)

    # --- changes ---

    def publish(self, session: str, owner: str) -> Resource:
        """A WHIP POST: the publisher's resource, or 409 `busy` while another is live."""
        s = self._sittings.setdefault(session, _Sitting())
        if s.publisher is not None:
            raise ResourceError(409, "busy", "this sitting is already being published")
        r = Resource("whip", session, self._new_id(), owner=owner)
        s.publisher = r
        # A reconnect within the grace: the viewers who waited are this publisher's now.
        s.publisher_gone_at = None
        self._by_id[r.id] = r
        return r

    def viewer(self, session: str, address: str) -> Resource:
        """A WHEP POST: 404 `not_live` without a live publisher, 429 `too_many` past a cap."""
        s = self._sittings.get(session)
        if s is None or s.publisher is None:
            raise ResourceError(404, "not_live", "this sitting is not being broadcast")
        if self.total_viewers >= self.max_viewers:
            raise ResourceError(429, "too_many", "the server has as many viewers as it takes")
        if self.viewers_from(address) >= self.max_viewers_per_address:
            raise ResourceError(429, "too_many", "too many players from this address")
        r = Resource("whep", session, self._new_id(), address=address)
        s.viewers[r.id] = r
        self._by_id[r.id] = r
        self._per_address[address] = self.viewers_from(address) + 1
        return r

    def delete(
        self, kind: Kind, session: str, resource_id: str, owner: str | None
    ) -> list[Resource]:
        """A DELETE of a resource URL: what ended (to be closed by the caller).

        404 `not_found` for an id that is not a live resource of this kind and sitting (so
        an id is no use on another sitting's URL); 403 `forbidden` for a publisher resource
        of someone else. A viewer resource is deleted by whoever holds its id, the id being
        the secret. Deleting the publisher stops the broadcast: its viewers end too.
        """
        r = self._by_id.get(resource_id)
        if r is None or r.kind != kind or r.session != session:
            raise ResourceError(404, "not_found", "no such resource")
        if r.kind == "whep":
            self._remove_viewer(self._sittings[session], r)
            self._forget_if_empty(session)
            return [r]
        if r.owner != owner:
            raise ResourceError(403, "forbidden", "this broadcast is someone else's")
        s = self._sittings[session]
        s.publisher = None
        del self._by_id[r.id]
        ended = [r, *self._end_viewers(s)]
        self._forget_if_empty(session)
        return ended

    def dropped(self, resource_id: str, *, now: float) -> Resource | None:
        """The resource's connection failed: free its slot. None if it was already gone
        (a DELETE and a connection failure may race).

        A publisher's viewers stay, waiting `publisher_grace` seconds for a reconnect."""
        r = self._by_id.get(resource_id)
        if r is None:
            return None
        if r.kind == "whep":
            self._remove_viewer(self._sittings[r.session], r)
            self._forget_if_empty(r.session)
            return r
        s = self._sittings[r.session]
        s.publisher = None
        del self._by_id[r.id]
        if s.viewers:
            s.publisher_gone_at = now
        else:
            self._forget_if_empty(r.session)
        return r

    def expire(self, *, now: float) -> list[Resource]:
        """Viewers whose publisher has been gone longer than the grace: they end now."""
        ended: list[Resource] = []
        for session, s in list(self._sittings.items()):
            gone = s.publisher_gone_at
            if s.publisher is None and gone is not None and now - gone >= self.publisher_grace:
                ended.extend(self._end_viewers(s))
                self._forget_if_empty(session)
        return ended

    def end(self, session: str) -> list[Resource]:
        """The sitting's broadcast ends (stopped by the chair, the sitting closed):
        everything of it ends, publisher first."""
        s = self._sittings.pop(session, None)
        if s is None:
            return []
        ended: list[Resource] = []
        if s.publisher is not None:
            del self._by_id[s.publisher.id]
            ended.append(s.publisher)
        ended.extend(self._end_viewers(s))
        return ended

    # --- internals ---

    def _new_id(self) -> str:
        # 192 random bits: the id is the viewer's only credential for its DELETE.
        while True:
            rid = secrets.token_urlsafe(24)
            if rid not in self._by_id:
                return rid

    def _remove_viewer(self, s: _Sitting, r: Resource) -> None:
        assert r.address is not None
        del s.viewers[r.id]
        del self._by_id[r.id]
        left = self._per_address[r.address] - 1
        if left:
            self._per_address[r.address] = left
        else:
            del self._per_address[r.address]

    def _end_viewers(self, s: _Sitting) -> list[Resource]:
        ended = list(s.viewers.values())
        for v in ended:
            self._remove_viewer(s, v)
        s.publisher_gone_at = None
        return ended

    def _forget_if_empty(self, session: str) -> None:
        s = self._sittings.get(session)
        if s is not None and s.publisher is None and not s.viewers:
            del self._sittings[session]

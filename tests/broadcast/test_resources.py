"""broadcast.resources: the WHIP/WHEP resource registry, case by case and as a state machine."""

from __future__ import annotations

import re

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    multiple,
    rule,
)

from broadcast.resources import Kind, Resource, ResourceError, Resources


def refused(status: int, code: str) -> pytest.RaisesExc[ResourceError]:
    return pytest.raises(ResourceError, check=lambda e: (e.status, e.code) == (status, code))


@pytest.fixture
def res() -> Resources:
    return Resources(max_viewers_per_address=2, max_viewers=3, publisher_grace=30.0)


def test_publish(res: Resources) -> None:
    pub = res.publish("s1", "key:abc")
    assert pub.kind == "whip" and pub.session == "s1" and pub.owner == "key:abc"
    assert pub.location == f"/whip/s1/{pub.id}"
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", pub.id)  # token_urlsafe(24)
    assert res.live("s1") and not res.live("s2")
    assert res.publisher("s1") == pub and res.get(pub.id) == pub


def test_second_publisher_is_busy(res: Resources) -> None:
    res.publish("s1", "key:abc")
    with refused(409, "busy"):
        res.publish("s1", "user:7")
    with refused(409, "busy"):
        res.publish("s1", "key:abc")  # the same owner too: one publisher at a time
    res.publish("s2", "user:7")  # another sitting is free


def test_viewer(res: Resources) -> None:
    res.publish("s1", "key:abc")
    v = res.viewer("s1", "10.0.0.1")
    assert v.kind == "whep" and v.address == "10.0.0.1" and v.owner is None
    assert v.location == f"/whep/s1/{v.id}"
    assert res.viewers("s1") == 1 and res.viewers("s2") == 0
    assert res.total_viewers == 1 and res.viewers_from("10.0.0.1") == 1


def test_viewer_needs_a_publisher(res: Resources) -> None:
    with refused(404, "not_live"):
        res.viewer("s1", "10.0.0.1")
    res.publish("s2", "key:abc")
    with refused(404, "not_live"):
        res.viewer("s1", "10.0.0.1")


def test_per_address_cap(res: Resources) -> None:
    res.publish("s1", "k")
    res.publish("s2", "k")
    res.viewer("s1", "10.0.0.1")
    res.viewer("s2", "10.0.0.1")  # the cap is over all sittings
    with refused(429, "too_many"):
        res.viewer("s1", "10.0.0.1")
    res.viewer("s1", "10.0.0.2")


def test_total_cap(res: Resources) -> None:
    res.publish("s1", "k")
    res.publish("s2", "k")
    res.viewer("s1", "a")
    res.viewer("s1", "b")
    res.viewer("s2", "c")
    with refused(429, "too_many"):
        res.viewer("s2", "d")
    assert res.total_viewers == 3


def test_cap_frees_on_delete(res: Resources) -> None:
    res.publish("s1", "k")
    v = res.viewer("s1", "a")
    res.viewer("s1", "a")
    with refused(429, "too_many"):
        res.viewer("s1", "a")
    assert res.delete("whep", "s1", v.id, None) == [v]
    res.viewer("s1", "a")


def test_delete_viewer_by_anyone_holding_the_id(res: Resources) -> None:
    res.publish("s1", "k")
    v = res.viewer("s1", "a")
    assert res.delete("whep", "s1", v.id, "someone") == [v]
    assert res.viewers("s1") == 0 and res.get(v.id) is None
    with refused(404, "not_found"):
        res.delete("whep", "s1", v.id, None)  # twice


def test_delete_unknown_or_misplaced(res: Resources) -> None:
    pub = res.publish("s1", "k")
    v = res.viewer("s1", "a")
    res.publish("s2", "k")
    with refused(404, "not_found"):
        res.delete("whep", "s1", "nope", None)
    with refused(404, "not_found"):
        res.delete("whep", "s2", v.id, None)  # another sitting's URL
    with refused(404, "not_found"):
        res.delete("whip", "s1", v.id, None)  # a viewer id on the WHIP URL
    with refused(404, "not_found"):
        res.delete("whep", "s1", pub.id, "k")  # the publisher id on the WHEP URL
    with refused(404, "not_found"):
        res.delete("whip", "s2", pub.id, "k")
    assert res.live("s1") and res.viewers("s1") == 1


def test_delete_someone_elses_publisher(res: Resources) -> None:
    pub = res.publish("s1", "key:abc")
    with refused(403, "forbidden"):
        res.delete("whip", "s1", pub.id, "user:7")
    with refused(403, "forbidden"):
        res.delete("whip", "s1", pub.id, None)
    assert res.live("s1")


def test_delete_publisher_ends_its_viewers(res: Resources) -> None:
    pub = res.publish("s1", "k")
    v1 = res.viewer("s1", "a")
    v2 = res.viewer("s1", "b")
    other = res.publish("s2", "k")
    w = res.viewer("s2", "a")
    ended = res.delete("whip", "s1", pub.id, "k")
    assert ended[0] == pub and set(ended[1:]) == {v1, v2}
    assert not res.live("s1") and res.viewers("s1") == 0
    assert res.get(v1.id) is None and res.viewers_from("a") == 1 and res.total_viewers == 1
    assert res.live("s2") and res.get(w.id) == w and res.publisher("s2") == other
    res.publish("s1", "user:7")  # a new broadcast


def test_viewer_dropped(res: Resources) -> None:
    res.publish("s1", "k")
    v = res.viewer("s1", "a")
    assert res.dropped(v.id, now=5.0) == v
    assert res.viewers("s1") == 0 and res.viewers_from("a") == 0
    assert res.dropped(v.id, now=6.0) is None  # already gone (a DELETE raced it)
    with refused(404, "not_found"):
        res.delete("whep", "s1", v.id, None)


def test_publisher_drop_and_reconnect_keeps_viewers(res: Resources) -> None:
    pub = res.publish("s1", "key:abc")
    v = res.viewer("s1", "a")
    assert res.dropped(pub.id, now=100.0) == pub
    assert not res.live("s1") and res.viewers("s1") == 1 and res.get(v.id) == v
    with refused(404, "not_live"):
        res.viewer("s1", "b")  # nothing published meanwhile
    assert res.expire(now=120.0) == []  # within the grace
    again = res.publish("s1", "key:abc")
    assert again.id != pub.id and res.live("s1")
    assert res.expire(now=1000.0) == []  # the publisher is back: no grace running
    assert res.viewers("s1") == 1
    # Deleting the old resource is no longer possible; the new one ends everything.
    with refused(404, "not_found"):
        res.delete("whip", "s1", pub.id, "key:abc")
    assert res.delete("whip", "s1", again.id, "key:abc") == [again, v]


def test_reconnect_by_another_owner(res: Resources) -> None:
    # The chair's browser may take over from OBS after OBS's connection failed.
    pub = res.publish("s1", "key:abc")
    res.viewer("s1", "a")
    res.dropped(pub.id, now=0.0)
    new = res.publish("s1", "user:7")
    assert new.owner == "user:7" and res.viewers("s1") == 1
    with refused(403, "forbidden"):
        res.delete("whip", "s1", new.id, "key:abc")


def test_grace_runs_out(res: Resources) -> None:
    pub = res.publish("s1", "k")
    v1 = res.viewer("s1", "a")
    v2 = res.viewer("s1", "b")
    res.publish("s2", "k")
    w = res.viewer("s2", "c")
    res.dropped(pub.id, now=100.0)
    assert res.expire(now=129.9) == []
    assert set(res.expire(now=130.0)) == {v1, v2}
    assert res.viewers("s1") == 0 and res.total_viewers == 1 and res.get(w.id) == w
    assert res.expire(now=500.0) == []


def test_drop_with_no_viewers(res: Resources) -> None:
    pub = res.publish("s1", "k")
    assert res.dropped(pub.id, now=0.0) == pub
    assert res.expire(now=1000.0) == []
    res.publish("s1", "k")


def test_viewers_dropping_during_grace(res: Resources) -> None:
    pub = res.publish("s1", "k")
    v = res.viewer("s1", "a")
    res.dropped(pub.id, now=0.0)
    assert res.delete("whep", "s1", v.id, None) == [v]
    assert res.expire(now=1000.0) == []


def test_end_of_broadcast(res: Resources) -> None:
    pub = res.publish("s1", "k")
    v = res.viewer("s1", "a")
    assert res.end("s1") == [pub, v]
    assert not res.live("s1") and res.viewers("s1") == 0 and res.total_viewers == 0
    assert res.end("s1") == []
    # During a grace: the waiting viewers end.
    pub = res.publish("s1", "k")
    v = res.viewer("s1", "a")
    res.dropped(pub.id, now=0.0)
    assert res.end("s1") == [v]
    assert res.expire(now=1000.0) == []


def test_ids_are_unique_and_unguessable(res: Resources) -> None:
    big = Resources(max_viewers_per_address=1000, max_viewers=1000)
    big.publish("s", "k")
    ids = {big.viewer("s", "a").id for _ in range(500)}
    assert len(ids) == 500


# --- as a state machine -------------------------------------------------------------------

SESSIONS = st.sampled_from(["s1", "s2"])
OWNERS = st.sampled_from(["key:1", "key:2", "user:9"])
ADDRESSES = st.sampled_from(["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"])
PER_ADDRESS, TOTAL, GRACE = 2, 5, 30.0


class RegistryMachine(RuleBasedStateMachine):
    """Any sequence of requests, failures and clock ticks keeps the books straight."""

    resources = Bundle("resources")

    def __init__(self) -> None:
        super().__init__()
        self.res = Resources(PER_ADDRESS, TOTAL, publisher_grace=GRACE)
        self.now = 0.0
        self.seen_ids: set[str] = set()
        self.live_ids: set[str] = set()
        # The model of the grace: when each sitting's publisher dropped, viewers waiting.
        self.gone_at: dict[str, float] = {}

    def _new(self, r: Resource) -> Resource:
        assert r.id not in self.seen_ids
        self.seen_ids.add(r.id)
        self.live_ids.add(r.id)
        assert r.location == f"/{r.kind}/{r.session}/{r.id}"
        return r

    def _ended(self, ended: list[Resource]) -> None:
        for r in ended:
            assert r.id in self.live_ids
            self.live_ids.discard(r.id)
            assert self.res.get(r.id) is None

    @rule(target=resources, session=SESSIONS, owner=OWNERS)
    def publish(self, session: str, owner: str) -> object:
        was_live = self.res.live(session)
        try:
            r = self.res.publish(session, owner)
        except ResourceError as e:
            assert (e.status, e.code, was_live) == (409, "busy", True)
            return multiple()
        assert not was_live
        self.gone_at.pop(session, None)
        return self._new(r)

    @rule(target=resources, session=SESSIONS, address=ADDRESSES)
    def viewer(self, session: str, address: str) -> object:
        live = self.res.live(session)
        full = self.res.total_viewers >= TOTAL or self.res.viewers_from(address) >= PER_ADDRESS
        try:
            r = self.res.viewer(session, address)
        except ResourceError as e:
            if not live:
                assert (e.status, e.code) == (404, "not_live")
            else:
                assert (e.status, e.code, full) == (429, "too_many", True)
            return multiple()
        assert live and not full
        return self._new(r)

    @rule(r=consumes(resources), owner=OWNERS, wrong_session=st.booleans())
    def delete(self, r: Resource, owner: str, wrong_session: bool) -> None:
        session = "elsewhere" if wrong_session else r.session
        kind: Kind = r.kind
        try:
            ended = self.res.delete(kind, session, r.id, owner)
        except ResourceError as e:
            if wrong_session or r.id not in self.live_ids:
                assert e.code == "not_found"
            else:
                assert (e.code, r.kind) == ("forbidden", "whip") and r.owner != owner
            return
        assert r.id in self.live_ids and ended[0] == r
        if r.kind == "whip":
            assert not self.res.live(r.session) and self.res.viewers(r.session) == 0
            self.gone_at.pop(r.session, None)
        self._ended(ended)

    @rule(r=consumes(resources))
    def dropped(self, r: Resource) -> None:
        self._drop(r)

    def _drop(self, r: Resource) -> None:
        was = r.id in self.live_ids
        assert (self.res.dropped(r.id, now=self.now) is not None) == was
        if was:
            self._ended([r])
            if r.kind == "whip" and self.res.viewers(r.session):
                self.gone_at[r.session] = self.now
            # Viewers stay through a publisher's drop.
            assert r.kind == "whep" or all(self.res.get(v) is not None for v in self.live_ids)

    @rule(session=SESSIONS)
    def publisher_fails(self, session: str) -> None:
        # The common failure, drawn directly (the bundle rarely offers the publisher).
        pub = self.res.publisher(session)
        if pub is not None:
            self._drop(pub)

    @rule(seconds=st.sampled_from([0.0, 1.0, 10.0, GRACE - 0.5, GRACE, 2 * GRACE]))
    def tick(self, seconds: float) -> None:
        self.now += seconds
        due = {s for s, t in self.gone_at.items() if self.now - t >= GRACE}
        waiting = {s: self.res.viewers(s) for s in self.gone_at}
        ended = self.res.expire(now=self.now)
        assert all(r.kind == "whep" for r in ended)
        assert {r.session for r in ended} == {s for s in due if waiting[s]}
        assert len(ended) == sum(waiting[s] for s in due)
        for s in due:
            del self.gone_at[s]
        self._ended(ended)

    @rule(session=SESSIONS)
    def end(self, session: str) -> None:
        self._ended(self.res.end(session))
        self.gone_at.pop(session, None)
        assert not self.res.live(session) and self.res.viewers(session) == 0

    @invariant()
    def books_balance(self) -> None:
        res = self.res
        total = 0
        for s in ("s1", "s2"):
            n = res.viewers(s)
            assert n >= 0
            total += n
            pub = res.publisher(s)
            assert res.live(s) == (pub is not None)
        assert total == res.total_viewers <= TOTAL
        for a in ("10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"):
            assert 0 <= res.viewers_from(a) <= PER_ADDRESS
        # Every resource we were given and not told ended is still there, and no other.
        for rid in self.live_ids:
            assert res.get(rid) is not None
        publishers = [r for rid in self.live_ids if (r := res.get(rid)) and r.kind == "whip"]
        assert len(publishers) == len({r.session for r in publishers})
        assert len(publishers) + total == len(self.live_ids)


RegistryMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=40, deadline=None
)
test_registry_machine = RegistryMachine.TestCase

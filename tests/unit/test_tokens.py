from __future__ import annotations

import time

import pytest

from session_server.auth.tokens import Actor, TokenError, TokenIssuer


def test_a_token_round_trips_its_actor() -> None:
    issuer = TokenIssuer("s3cret", 60)
    actor = Actor(role="chair", user_id=1, login="chair", name="K", council_id=1, deputy_id=1)
    assert issuer.verify(issuer.issue(actor)) == actor


def test_a_token_signed_with_another_key_is_refused() -> None:
    token = TokenIssuer("one", 60).issue(Actor(role="admin", user_id=1))
    with pytest.raises(TokenError) as err:
        TokenIssuer("two", 60).verify(token)
    assert err.value.code == "bad_token"


def test_a_tampered_token_is_refused() -> None:
    issuer = TokenIssuer("s3cret", 60)
    token = issuer.issue(Actor(role="deputy", user_id=2))
    with pytest.raises(TokenError):
        issuer.verify(token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:])


def test_an_expired_token_is_refused() -> None:
    issuer = TokenIssuer("s3cret", 1)
    token = issuer.issue(Actor(role="deputy", user_id=2))
    time.sleep(2.1)
    with pytest.raises(TokenError) as err:
        issuer.verify(token)
    assert err.value.code == "token_expired"


def test_a_signed_token_with_fields_we_do_not_know_is_refused() -> None:
    """Signed with our key by another version (or a leaked key): refused, not a crash."""
    issuer = TokenIssuer("s3cret", 60)
    token = issuer._serializer.dumps({"role": "deputy", "user_id": 2, "superpower": True})
    with pytest.raises(TokenError) as err:
        issuer.verify(token)
    assert err.value.code == "bad_token"

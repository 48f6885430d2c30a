"""KENGASH_ICE_SERVERS and the TURN credentials: what the WHIP and WHEP answers announce
(`Link: rel="ice-server"`, RFC 9725 section 4.6) and what the server's own peer
connections use."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import pytest
from pydantic import ValidationError

from session_server.broadcasting.ice import ice_links, ice_servers, rtc_ice_servers
from session_server.settings import Settings

STUN = "stun:turn.example.uz:3478"
TURN_UDP = "turn:turn.example.uz:3478?transport=udp"
TURNS = "turns:[2001:db8::1]:5349?transport=tcp"


def settings(**values: Any) -> Settings:
    return Settings.model_validate(values)


def test_no_servers_no_links() -> None:
    assert ice_links(settings()) == []
    assert rtc_ice_servers(settings()) == []


def test_stun_plain_turn_with_the_fixed_credentials() -> None:
    s = settings(
        ice_servers=f" {STUN}, {TURN_UDP},{TURNS} ",
        turn_username="obs",
        turn_credential='pa"ss\\word',
    )
    assert ice_links(s) == [
        f'<{STUN}>; rel="ice-server"',
        f'<{TURN_UDP}>; rel="ice-server"; username="obs"; credential="pa\\"ss\\\\word"'
        '; credential-type="password"',
        f'<{TURNS}>; rel="ice-server"; username="obs"; credential="pa\\"ss\\\\word"'
        '; credential-type="password"',
    ]
    servers = rtc_ice_servers(s)
    assert [(x.urls, x.username, x.credential) for x in servers] == [
        (STUN, None, None),
        (TURN_UDP, "obs", 'pa"ss\\word'),
        (TURNS, "obs", 'pa"ss\\word'),
    ]


def test_the_shared_secret_makes_passwords_that_expire() -> None:
    s = settings(ice_servers=f"{STUN},{TURN_UDP}", turn_secret="s3cret", turn_ttl_seconds=600)
    stun, turn = ice_servers(s, now=1_000_000.5)
    assert stun.username is None and stun.credential is None
    assert turn.username == "1000600:kengash"
    expected = hmac.new(b"s3cret", b"1000600:kengash", hashlib.sha1).digest()
    assert turn.credential is not None and base64.b64decode(turn.credential) == expected
    # Later answers get later expiries (and so other passwords).
    assert ice_servers(s, now=1_000_100)[1].username == "1000700:kengash"


def test_turn_without_credentials_is_announced_bare() -> None:
    assert ice_links(settings(ice_servers=TURN_UDP)) == [f'<{TURN_UDP}>; rel="ice-server"']


@pytest.mark.parametrize(
    "url",
    [
        "http://turn.example.uz",
        "stun:turn.example.uz:3478?transport=udp",  # STUN has no transport
        "turn:turn.example.uz?transport=sctp",
        "turn:turn.example.uz>; rel=evil",
        "stun:",
        "turn:host:123456",
    ],
)
def test_a_bad_url_stops_the_server(url: str) -> None:
    with pytest.raises(ValidationError, match="stun:, turn: or turns:"):
        settings(ice_servers=f"{STUN},{url}")


def test_a_username_without_its_password_stops_the_server() -> None:
    with pytest.raises(ValidationError, match="together"):
        settings(turn_username="obs")
    with pytest.raises(ValidationError, match="together"):
        settings(turn_credential="pw")

"""Council members acting over /ws from the test itself (a synchronous socket each), for
what would take a browser page per deputy: registering a quorum, casting many ballots."""

from __future__ import annotations

import json
import uuid
from types import TracebackType
from typing import Any

import httpx
from websockets.sync.client import ClientConnection, connect

from tests.conftest import Server

SESSION = 1
# Crockford base32, as a tablet draws receipt codes for secret ballots.
RECEIPT_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def sign_in(server: Server, login: str) -> dict[str, Any]:
    response = httpx.post(f"{server.url}/api/auth/demo", json={"login": login}, timeout=10)
    response.raise_for_status()
    return dict(response.json())


def new_receipt() -> str:
    return "".join(RECEIPT_ALPHABET[b & 31] for b in uuid.uuid4().bytes)


class Member:
    """One signed-in user with their own socket; not subscribed, so only answers arrive."""

    def __init__(self, server: Server, login: str) -> None:
        auth = sign_in(server, login)
        self.user: dict[str, Any] = auth["user"]
        self._connection = connect(f"{server.ws_url}?token={auth['token']}")
        self.ws: ClientConnection = self._connection.__enter__()

    def __enter__(self) -> Member:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._connection.__exit__(kind, error, trace)

    def send(self, cmd: str, **args: Any) -> dict[str, Any]:
        """The command's ack or nack frame."""
        command_id = uuid.uuid4().hex
        frame = {"type": "cmd", "id": command_id, "cmd": cmd, "args": {"session": SESSION, **args}}
        self.ws.send(json.dumps(frame))
        while True:
            answer = json.loads(self.ws.recv(timeout=10))
            if answer.get("id") == command_id:
                return dict(answer)

    def ok(self, cmd: str, **args: Any) -> dict[str, Any]:
        """The command's result; fails the test on a nack."""
        answer = self.send(cmd, **args)
        assert answer["type"] == "ack", answer
        return dict(answer["result"])


def deputy_ids(server: Server, logins: list[str]) -> dict[str, int]:
    return {login: int(sign_in(server, login)["user"]["deputy_id"]) for login in logins}


def register(server: Server, ids: list[int]) -> None:
    """The secretariat registers these deputies present."""
    with Member(server, "secretary") as secretary:
        for deputy in ids:
            secretary.ok("attendance.register", deputy=deputy)


def cast(server: Server, login: str, vote: int, choice: str | list[str], secret: bool) -> str:
    """One deputy's ballot; returns the receipt code of a secret one."""
    receipt = new_receipt() if secret else ""
    with Member(server, login) as deputy:
        args: dict[str, Any] = {"vote": vote, "choice": choice}
        if secret:
            args["receipt"] = receipt
        deputy.ok("vote.cast", **args)
    return receipt

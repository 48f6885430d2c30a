"""One ID (sso.egov.uz), the state's single sign-on: the addresses and forms this server
sends it, and how its answers are read. Everything here but `OneIdClient._post` is pure.

One ID's scheme, all on one address (the authorisation address, `Authorization.do`):

1. The browser is sent there with `response_type=one_code`, `client_id`,
   `redirect_uri`, `scope` and `state`. The person signs in at One ID, which sends the
   browser back to `redirect_uri` with `code` and the same `state`.
2. This server POSTs, form-encoded, `grant_type=one_authorization_code`, `client_id`,
   `client_secret`, `redirect_uri` and `code` to the same address. The answer is JSON
   with `access_token` (and `refresh_token`, `expires_in`, `scope`, `token_type`).
3. It POSTs `grant_type=one_access_token_identify`, `client_id`, `client_secret`,
   `access_token` and `scope`. The answer is the person as JSON: `pin` (the PINFL),
   names, `user_id`, `valid`, `sess_id` and more; only `pin` and `valid` are read.

A refusal is JSON with `error` and `error_description` (OAuth's shape). What One ID
says goes to the log; the person is told only the code it maps to here.

The `state` and the hand-over code are made and read here too; auth/oneid_routes.py
keeps them in the database."""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

import httpx
import structlog

from session_server.validation import load_json

if TYPE_CHECKING:
    from session_server.settings import Settings

log = structlog.get_logger(__name__)

CALLBACK_PATH = "/api/auth/oneid/callback"
# The pages a One ID sign-in may start from and return to; the name goes into `state`.
PAGES = {"/deputy": "deputy", "/chair": "chair", "/clerk": "clerk", "/operator": "operator"}
_PAGE_OF_NAME = {name: path for path, name in PAGES.items()}
_STATE = re.compile(rf"(?P<page>{'|'.join(PAGES.values())})\.(?P<nonce>[0-9a-f]{{32}})")
_PINFL = re.compile(r"[0-9]{14}")
# One ID's answers are a few hundred bytes; anything far larger is not One ID.
ANSWER_MAX = 64 * 1024
ACCESS_TOKEN_MAX = 4096


class OneIdRefused(Exception):
    """One ID's answer signs nobody in. `code` is what the person and the trail are told:
    `oneid_refused` (One ID said no), `oneid_bad_answer` (not what One ID documents),
    `no_pinfl` (the person's answer has no PINFL)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class OneIdUnavailable(Exception):
    """One ID did not answer in time, could not be reached, or failed itself (5xx)."""


@dataclass(frozen=True, slots=True)
class OneIdConfig:
    url: str
    client_id: str
    client_secret: str = field(repr=False)  # never in a log line or a traceback
    redirect_uri: str
    scope: str
    timeout: float


def config_from(settings: Settings) -> OneIdConfig | None:
    """The One ID client's settings; None (One ID off) without a client id. A client id
    with the rest missing or malformed raises ValueError: the server does not start half
    set up."""
    client_id = (settings.oneid_client_id or "").strip()
    if not client_id:
        return None
    secret = settings.oneid_client_secret
    if secret is None or not secret.get_secret_value():
        raise ValueError("KENGASH_ONEID_CLIENT_ID is set: set KENGASH_ONEID_CLIENT_SECRET too")
    redirect_uri = (settings.oneid_redirect_uri or "").strip()
    if not redirect_uri:
        raise ValueError(
            "KENGASH_ONEID_CLIENT_ID is set: set KENGASH_ONEID_REDIRECT_URI to this server's "
            f"https://…{CALLBACK_PATH} as the browser sees it"
        )
    production = settings.environment == "production"
    _check_url("KENGASH_ONEID_REDIRECT_URI", redirect_uri, production)
    if urlsplit(redirect_uri).path != CALLBACK_PATH or urlsplit(redirect_uri).query:
        raise ValueError(f"KENGASH_ONEID_REDIRECT_URI must end with {CALLBACK_PATH}")
    _check_url("KENGASH_ONEID_URL", settings.oneid_url, production)
    return OneIdConfig(
        url=settings.oneid_url,
        client_id=client_id,
        client_secret=secret.get_secret_value(),
        redirect_uri=redirect_uri,
        scope=(settings.oneid_scope or "").strip() or client_id,
        timeout=settings.oneid_timeout_seconds,
    )


def _check_url(name: str, url: str, production: bool) -> None:
    parts = urlsplit(url)
    schemes = ("https",) if production else ("https", "http")
    if parts.scheme not in schemes or not parts.hostname or parts.fragment:
        wanted = "an https:// address" if production else "an http(s):// address"
        raise ValueError(f"{name} must be {wanted}, not {url!r}")


# -- the state and the hand-over code --------------------------------------------------------


def new_state(page: str) -> str:
    """A fresh `state` for a sign-in from `page` (one of PAGES): the page's name and 128
    random bits. The database row for it vouches for the whole value, so the page in it
    needs no signature: another page gives a value that has no row."""
    return f"{PAGES[page]}.{secrets.token_hex(16)}"


def page_of(state: str) -> str | None:
    """The page a `state` names, whether or not it is live; None if it names none."""
    match = _STATE.fullmatch(state)
    return None if match is None else _PAGE_OF_NAME[match["page"]]


def cookie_name(state: str) -> str | None:
    """The cookie that ties a `state` to the browser that asked for it; one per state,
    so that sign-ins started in two tabs at once do not undo each other."""
    match = _STATE.fullmatch(state)
    return None if match is None else f"kengash_oneid_{match['nonce'][:16]}"


def new_handover_code(sign_in: str) -> str:
    """The code the page redeems for its token: the sign-in's id and 128 random bits."""
    return f"{sign_in}.{secrets.token_hex(16)}"


def sign_in_of(code: str) -> str | None:
    sign_in, dot, secret = code.partition(".")
    return sign_in if dot and sign_in and secret else None


def digest(code: str) -> str:
    """What the database keeps of a hand-over code: whoever reads the table cannot
    redeem one (64 hexadecimal characters, the challenge column's size)."""
    return hashlib.sha256(code.encode()).hexdigest()


# -- what is sent --------------------------------------------------------------------------


def authorization_url(config: OneIdConfig, state: str) -> str:
    query = urlencode(
        {
            "response_type": "one_code",
            "client_id": config.client_id,
            "redirect_uri": config.redirect_uri,
            "scope": config.scope,
            "state": state,
        }
    )
    return f"{config.url}{'&' if urlsplit(config.url).query else '?'}{query}"


def token_form(config: OneIdConfig, code: str) -> dict[str, str]:
    return {
        "grant_type": "one_authorization_code",
        "client_id": config.client_id,
        "client_secret": config.client_secret,
        "redirect_uri": config.redirect_uri,
        "code": code,
    }


def identify_form(config: OneIdConfig, access_token: str) -> dict[str, str]:
    return {
        "grant_type": "one_access_token_identify",
        "client_id": config.client_id,
        "client_secret": config.client_secret,
        "access_token": access_token,
        "scope": config.scope,
    }


# -- what comes back -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Identity:
    pinfl: str


def read_answer(status: int, body: bytes, step: str) -> dict[str, Any]:
    """One ID's JSON object for a back-channel call, or why there is none."""
    if status >= 500:
        log.warning("oneid_unavailable", step=step, http_status=status)
        raise OneIdUnavailable(f"One ID answered HTTP {status}")
    try:
        data: Any = load_json(body, "answer")
    except ValueError:  # not JSON, or not JSON anyone sends
        data = None
    if isinstance(data, dict) and data.get("error"):
        log.info(
            "oneid_refused",
            step=step,
            http_status=status,
            error=str(data["error"])[:64],
            description=str(data.get("error_description", ""))[:300],
        )
        raise OneIdRefused("oneid_refused", f"One ID refused the {step}")
    if status != 200 or not isinstance(data, dict):
        # The start of a body that is not JSON (an HTML error page, say) tells what is
        # wrong. An answer about the person may hold their data: of that, and of JSON,
        # only the size and kind are logged.
        if data is None and step != "person":
            shown = _shown(body)
        else:
            shown = f"{type(data).__name__}, {len(body)} bytes"
        log.warning("oneid_bad_answer", step=step, http_status=status, body=shown)
        raise OneIdRefused("oneid_bad_answer", f"One ID's answer to the {step} cannot be read")
    return data


def access_token_of(answer: dict[str, Any]) -> str:
    token = answer.get("access_token")
    if not isinstance(token, str) or not token or len(token) > ACCESS_TOKEN_MAX:
        log.warning("oneid_bad_answer", step="code", keys=sorted(answer)[:20])
        raise OneIdRefused("oneid_bad_answer", "One ID's answer has no access token")
    return token


def identity_of(answer: dict[str, Any]) -> Identity:
    valid = answer.get("valid")
    # One ID writes `valid` as a boolean or as the text "true"/"false".
    if valid is False or (isinstance(valid, str) and valid.strip().lower() == "false"):
        log.info("oneid_refused", step="person", valid=str(valid))
        raise OneIdRefused("oneid_refused", "One ID says this identification is not valid")
    pin = answer.get("pin")
    if isinstance(pin, int) and not isinstance(pin, bool):
        pin = str(pin)
    if not isinstance(pin, str) or not _PINFL.fullmatch(pin.strip()):
        # The PINFL itself is personal data: the log says only that it was unusable.
        log.info("oneid_no_pinfl", present="pin" in answer)
        raise OneIdRefused("no_pinfl", "One ID's answer carries no PINFL")
    return Identity(pin.strip())


def _shown(body: bytes) -> str:
    return body[:200].decode("utf-8", "replace")


# -- the client ----------------------------------------------------------------------------


class OneIdClient:
    """The back channel to One ID. One HTTP client per sign-in, as for E-IMZO-SERVER:
    sign-ins are few, and there is no pool to close."""

    def __init__(self, config: OneIdConfig) -> None:
        self.config = config

    def authorization_url(self, state: str) -> str:
        return authorization_url(self.config, state)

    async def identify(self, code: str) -> Identity:
        """The person One ID signed in with `code`: OneIdRefused or OneIdUnavailable if
        there is none."""
        token = access_token_of(await self._post(token_form(self.config, code), "code"))
        return identity_of(await self._post(identify_form(self.config, token), "person"))

    async def _post(self, form: dict[str, str], step: str) -> dict[str, Any]:
        # httpx's timeout bounds each read; the deadline bounds the whole answer, so a
        # server that trickles bytes cannot hold the sign-in either.
        try:
            async with (
                asyncio.timeout(self.config.timeout),
                httpx.AsyncClient(timeout=self.config.timeout) as client,
                client.stream(
                    "POST", self.config.url, data=form, headers={"Accept": "application/json"}
                ) as response,
            ):
                body = b""
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > ANSWER_MAX:
                        break
                status = response.status_code
        except (httpx.HTTPError, TimeoutError) as exc:
            # The form (with the secret) is in the body, never in what is logged here.
            log.warning("oneid_unavailable", step=step, error=type(exc).__name__)
            raise OneIdUnavailable("One ID did not answer") from exc
        if len(body) > ANSWER_MAX:
            log.warning("oneid_bad_answer", step=step, http_status=status, size=len(body))
            raise OneIdRefused("oneid_bad_answer", f"One ID's answer to the {step} is too large")
        return read_answer(status, body, step)


def client_from(settings: Settings) -> OneIdClient | None:
    config = config_from(settings)
    return None if config is None else OneIdClient(config)

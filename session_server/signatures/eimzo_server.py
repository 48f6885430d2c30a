"""Asking E-IMZO-SERVER, the E-IMZO project's REST service, to check signatures.

It knows the O'zDSt algorithms of real E-IMZO keys and asks the CA (over its VPN)
whether a certificate is revoked. Its `/backend/...` methods must be reachable by this
server only. The methods used:

- `GET /frontend/challenge`: a challenge for sign-in (`challenge`, `ttl`).
- `POST /backend/auth` (sign-in, `verify_attached`): the body is the base64 PKCS#7,
  `X-Real-IP` the user's address and `Host` the site's name. It checks the signature,
  the certificate (valid, not revoked), the signing time against its clock, and that
  the signed content is a challenge it issued and has not seen used: `challenge()`
  must have handed it out.
- `POST /backend/pkcs7/verify/detached` (`verify_detached`): the body is the base64
  content and the base64 PKCS#7 joined by `|`.

Its `/backend/pkcs7/verify/attached` checks an attached signature over a document
rather than a sign-in; nothing here needs that (documents are signed detached).

Every answer is JSON with `status`: 1 is success, anything else a refusal (mapped to
a SignatureError code; E-IMZO-SERVER's own message goes to the log only). A timeout,
a connection error, a 5xx or an answer that cannot be read is VerifierUnavailable.
The content and signing time come from the PKCS#7 itself (read by `cms.parse`), and
the signer from its certificate with the serial number E-IMZO-SERVER names, so that
both verifiers describe a signer alike."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime
from typing import Any

import httpx
import structlog

from session_server.signatures import cms
from session_server.signatures.base import (
    Challenge,
    SignatureError,
    Signer,
    Verified,
    VerifierUnavailable,
)

log = structlog.get_logger(__name__)

# E-IMZO-SERVER's documented statuses, and what each means here. -12 (not valid at
# the signing time) is told apart by the certificate's dates. A status that says a
# status source was down is VerifierUnavailable; one not documented is bad_signature.
_AUTH_STATUSES = {
    -5: ("bad_signing_time", "the signing time is wrong: check the device's clock"),
    -10: ("bad_signature", "the signature does not match"),
    -11: ("untrusted_certificate", "the certificate is not valid"),
    -20: ("unknown_challenge", "the signed challenge is unknown or expired: try again"),
}
_VERIFY_STATUSES = {
    -10: ("bad_signature", "the signature does not match"),
    -11: ("untrusted_certificate", "the certificate is not valid"),
    -21: ("bad_signature", "the signature's timestamp does not match"),
    -22: ("untrusted_certificate", "the timestamp's certificate is not valid"),
    -23: ("untrusted_certificate", "the timestamp's certificate was not valid then"),
}
_AUTH_UNAVAILABLE = {-1: "the certificate's status"}
_VERIFY_UNAVAILABLE = {-1: "the certificate's status", -20: "the timestamp's status"}
_NOT_VALID_THEN = -12
_FORM = "application/x-www-form-urlencoded"  # what E-IMZO's own examples send (curl -d)


class EimzoServerVerifier:
    """base.Verifier (and base.ChallengeIssuer) through E-IMZO-SERVER at `base_url`.

    One HTTP client per call: sign-ins are few, and there is then no pool to close."""

    def __init__(self, base_url: str, timeout: float) -> None:
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout

    async def challenge(self) -> Challenge:
        answer = await self._call("GET", "/frontend/challenge")
        value, ttl = answer.get("challenge"), answer.get("ttl")
        if answer.get("status") != 1 or not isinstance(value, str) or not value:
            _log_refusal("/frontend/challenge", answer)
            raise VerifierUnavailable("E-IMZO-SERVER gave no challenge")
        # Without a usable ttl, a minute: E-IMZO-SERVER's own is two.
        return Challenge(value, ttl if isinstance(ttl, int) and ttl > 0 else 60)

    async def verify_attached(
        self, pkcs7: bytes, *, client_address: str = "", host: str = ""
    ) -> Verified:
        message = await asyncio.to_thread(_read, pkcs7)  # CPU work, off the loop
        if message.content is None:
            raise SignatureError("bad_pkcs7", "the signature does not hold its content")
        answer = await self._call(
            "POST",
            "/backend/auth",
            content=base64.b64encode(pkcs7),
            headers=_user_headers(client_address, host),
        )
        status = answer.get("status")
        if status != 1:
            raise _refusal("/backend/auth", answer, message, _AUTH_STATUSES, _AUTH_UNAVAILABLE)
        info = answer.get("subjectCertificateInfo")
        serial = info.get("serialNumber") if isinstance(info, dict) else None
        return Verified(message.content, _signer(message, serial), message.signing_time)

    async def verify_detached(self, pkcs7: bytes, content: bytes) -> Verified:
        message = await asyncio.to_thread(_read, pkcs7)  # CPU work, off the loop
        if message.content is not None and message.content != content:
            raise SignatureError("wrong_content", "the signature holds other content")
        body = base64.b64encode(content) + b"|" + base64.b64encode(pkcs7)
        answer = await self._call("POST", "/backend/pkcs7/verify/detached", content=body)
        if answer.get("status") != 1:
            raise _refusal(
                "/backend/pkcs7/verify/detached",
                answer,
                message,
                _VERIFY_STATUSES,
                _VERIFY_UNAVAILABLE,
            )
        signer = _only_signer(answer)
        # Status 1 says the request was handled; each signer's flags say the verdict.
        if signer.get("verified") is not True:
            raise SignatureError("bad_signature", "the signature does not match")
        if signer.get("revokedStatusInfo"):
            raise SignatureError("certificate_revoked", "the certificate is revoked")
        if signer.get("certificateVerified") is not True:
            raise SignatureError("untrusted_certificate", "the certificate is not valid")
        if signer.get("certificateValidAtSigningTime") is not True:
            raise _not_valid_then(message)
        if signer.get("exception"):
            log.info(
                "eimzo_server_note",
                endpoint="/backend/pkcs7/verify/detached",
                note=str(signer["exception"])[:500],
            )
        certificates = signer.get("certificate")
        first = certificates[0] if isinstance(certificates, list) and certificates else None
        serial = first.get("serialNumber") if isinstance(first, dict) else None
        return Verified(content, _signer(message, serial), message.signing_time)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """E-IMZO-SERVER's JSON answer; VerifierUnavailable when there is none to read."""
        all_headers = dict(headers or {})
        if content is not None:
            all_headers["Content-Type"] = _FORM
        try:
            async with httpx.AsyncClient(base_url=self._base_url, timeout=self._timeout) as client:
                response = await client.request(method, path, content=content, headers=all_headers)
        except httpx.HTTPError as exc:
            log.warning("eimzo_server_unavailable", endpoint=path, error=repr(exc))
            raise VerifierUnavailable("E-IMZO-SERVER did not answer") from exc
        if response.status_code == httpx.codes.BAD_REQUEST:
            # "An error in the request parameters": what we send is the PKCS#7.
            log.warning("eimzo_server_bad_request", endpoint=path, body=response.text[:500])
            raise SignatureError("bad_pkcs7", "E-IMZO-SERVER could not read the signature")
        if response.status_code != httpx.codes.OK:
            log.warning(
                "eimzo_server_unavailable",
                endpoint=path,
                http_status=response.status_code,
                body=response.text[:500],
            )
            raise VerifierUnavailable(f"E-IMZO-SERVER answered HTTP {response.status_code}")
        try:
            answer = response.json()
        except ValueError as exc:
            log.warning("eimzo_server_unreadable", endpoint=path, body=response.text[:500])
            raise VerifierUnavailable("E-IMZO-SERVER's answer is not JSON") from exc
        if not isinstance(answer, dict) or not isinstance(answer.get("status"), int):
            log.warning("eimzo_server_unreadable", endpoint=path, body=response.text[:500])
            raise VerifierUnavailable("E-IMZO-SERVER's answer has no status")
        return answer


def _read(pkcs7: bytes) -> cms.SignedMessage:
    """The PKCS#7's parts, refused here when it is no signature at all or when its
    certificate may not sign (as the local verifier does), without asking."""
    message = cms.parse(pkcs7)
    problem = cms.signing_certificate_problem(message.signer_certificate)
    if problem is not None:
        raise SignatureError("not_signing_certificate", problem)
    return message


def _refusal(
    endpoint: str,
    answer: dict[str, Any],
    message: cms.SignedMessage,
    statuses: dict[int, tuple[str, str]],
    unavailable: dict[int, str],
) -> Exception:
    """The exception for a status other than 1 (its message is logged, not shown)."""
    _log_refusal(endpoint, answer)
    status = answer["status"]
    if status in unavailable:
        return VerifierUnavailable(f"E-IMZO-SERVER could not check {unavailable[status]}")
    if status == _NOT_VALID_THEN:
        return _not_valid_then(message)
    code, text = statuses.get(status, ("bad_signature", f"E-IMZO-SERVER refused it ({status})"))
    return SignatureError(code, text)


def _log_refusal(endpoint: str, answer: dict[str, Any]) -> None:
    log.info(
        "eimzo_server_refused",
        endpoint=endpoint,
        status=answer.get("status"),
        message=str(answer.get("message"))[:500],
    )


def _user_headers(client_address: str, host: str) -> dict[str, str]:
    headers = {}
    if client_address:
        headers["X-Real-IP"] = client_address
    if host:
        headers["Host"] = host
    return headers


def _only_signer(answer: dict[str, Any]) -> dict[str, Any]:
    info = answer.get("pkcs7Info")
    signers = info.get("signers") if isinstance(info, dict) else None
    if not isinstance(signers, list) or not all(isinstance(s, dict) for s in signers):
        log.warning("eimzo_server_unreadable", endpoint="/backend/pkcs7/verify/detached")
        raise VerifierUnavailable("E-IMZO-SERVER's answer names no signer")
    if len(signers) != 1:
        raise SignatureError("bad_pkcs7", "the signature must have exactly one signer")
    signer: dict[str, Any] = signers[0]
    return signer


def _not_valid_then(message: cms.SignedMessage) -> SignatureError:
    """-12 or certificateValidAtSigningTime false: before or after the validity?"""
    moment = message.signing_time or datetime.now(UTC)
    signer = cms.describe_signer(message.signer_certificate)
    if moment < signer.valid_from:
        return SignatureError("certificate_not_yet_valid", "the certificate was not valid yet")
    return SignatureError("certificate_expired", "the certificate has expired")


def _signer(message: cms.SignedMessage, serial: object) -> Signer:
    """The signer from the PKCS#7's certificate that E-IMZO-SERVER names by serial."""
    try:
        number = int(serial, 16) if isinstance(serial, str) else None
    except ValueError:
        number = None
    if number is None or number != message.signer_certificate.serial_number:
        log.warning("eimzo_server_mismatch", serial=str(serial)[:80])
        raise VerifierUnavailable("E-IMZO-SERVER's answer does not match the signature")
    return cms.describe_signer(message.signer_certificate)

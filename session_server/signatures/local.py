"""Checking RSA and ECDSA signatures here, against CA certificates the operator trusts.

The CMS reading, the signature math (`cms.py`) and the certificate path with its
revocation look-ups (pyhanko-certvalidator) are all CPU work in Python: run on the
server's event loop or a thread of it (which holds the same interpreter lock), a burst
of sign-ins at the start of a sitting would hold up every socket's events. With
`workers` (the default, one), the whole check runs in worker processes below the
server's priority (session_server/workers.py, background.py); without, the CMS on a thread and the
path on the loop, which bench/signin.py measured the worse of the two. O'zDSt
signatures (most real E-IMZO keys) cannot be checked here: they are refused as
`unsupported_algorithm`; use E-IMZO-SERVER for them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import structlog
from asn1crypto import pem, x509
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import (
    ExpiredError,
    InsufficientRevinfoError,
    InvalidCertificateError,
    NotYetValidError,
    PathBuildingError,
    PathValidationError,
    RevokedError,
)
from pyhanko_certvalidator.fetchers.aiohttp_fetchers import AIOHttpFetcherBackend

from session_server.signatures import cms
from session_server.signatures.base import SignatureError, Verified, VerifierUnavailable
from session_server.workers import WorkerError, WorkerPool

log = structlog.get_logger(__name__)

# How far a sign-in's signing time may be from the server's clock (E-IMZO-SERVER
# refuses the same with its status -5). A sign-in signs a fresh challenge, so the
# signature is made now; a detached signature may be old, but not from the future.
SIGNING_WINDOW = timedelta(minutes=5)
# Revocation look-ups: at most this many request timeouts for one path (the CRL or
# OCSP of each certificate, an issuer fetched by its AIA).
_REQUESTS_PER_PATH = 3


def _now() -> datetime:
    return datetime.now(UTC)


def load_trust_anchors(trust_dir: Path) -> list[x509.Certificate]:
    """Every certificate in the files of `trust_dir` (PEM, several per file, or DER).

    Raises ValueError for a missing or empty directory or a file that holds no
    certificate: a mistake there would refuse every sign-in, so it stops the start."""
    if not trust_dir.is_dir():
        raise ValueError(f"KENGASH_EIMZO_TRUST_DIR {trust_dir} is not a directory")
    anchors: list[x509.Certificate] = []
    for path in sorted(trust_dir.iterdir()):
        if path.name.startswith(".") or not path.is_file():
            continue
        data = path.read_bytes()
        try:
            if pem.detect(data):
                blocks = [
                    der
                    for kind, _, der in pem.unarmor(data, multiple=True)
                    if kind in ("CERTIFICATE", "TRUSTED CERTIFICATE")
                ]
            else:
                blocks = [data]
            found = [x509.Certificate.load(der, strict=True) for der in blocks]
            for certificate in found:
                certificate.subject.native  # noqa: B018 - fail now on a broken file
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            raise ValueError(f"{path} does not hold X.509 certificates") from exc
        if not found:
            raise ValueError(f"{path} does not hold X.509 certificates")
        anchors.extend(found)
    if not anchors:
        raise ValueError(f"KENGASH_EIMZO_TRUST_DIR {trust_dir} holds no certificates")
    return anchors


@dataclass(frozen=True)
class _Config:
    """What a worker process needs to build its own verifier."""

    trust_dir: Path
    check_revocation: bool
    timeout: float
    signing_window: timedelta


# A worker's answer: ("ok", Verified, ""), ("refused", code, message), or
# ("unavailable", message, "").
# Exceptions with their own constructors do not travel between processes; these do.
_Outcome = tuple[str, Verified | str, str]


class LocalVerifier:
    """base.Verifier over the trust anchors in `trust_dir`.

    With `check_revocation`, a certificate that names a CRL or an OCSP responder is
    checked there (hard fail: an answer that cannot be had is VerifierUnavailable,
    never a success); certificates that name none are taken as they are."""

    def __init__(
        self,
        trust_dir: Path,
        check_revocation: bool,
        *,
        timeout: float = 10.0,
        signing_window: timedelta = SIGNING_WINDOW,
        clock: Callable[[], datetime] = _now,
        workers: int = 0,
    ) -> None:
        self._anchors = load_trust_anchors(trust_dir)
        self._check_revocation = check_revocation
        self._timeout = timeout
        self._window = signing_window
        self._clock = clock
        self._config = _Config(trust_dir, check_revocation, timeout, signing_window)
        # The loop hands the check to a worker itself (session_server/workers.py): a
        # ProcessPoolExecutor's helper threads held the loop up about 1.4 ms a sign-in.
        self._pool = (
            WorkerPool(workers, initializer=_warm, initargs=(self._config,), name="signature")
            if workers
            else None
        )

    async def start(self) -> None:
        """Start the worker processes now, not at the first sign-in (they take a second
        to import the server's code), each with its verifier built."""
        if self._pool is not None:
            await self._pool.start()

    async def stop(self) -> None:
        if self._pool is not None:
            await self._pool.stop()

    async def verify_attached(
        self, pkcs7: bytes, *, client_address: str = "", host: str = ""
    ) -> Verified:
        """A sign-in: the signature is checked, its signing time must be within the
        window of now, and the certificate must be valid now."""
        return await self._verify(pkcs7, None)

    async def verify_detached(self, pkcs7: bytes, content: bytes) -> Verified:
        """A document: the certificate must have been valid at the signing time (now
        when the signature names none). The signing time is the signer's claim."""
        return await self._verify(pkcs7, content)

    async def _verify(self, pkcs7: bytes, content: bytes | None) -> Verified:
        now = self._clock()
        if self._pool is not None:
            try:
                outcome = await self._pool.run(_in_worker, pkcs7, content, now)
            except WorkerError as exc:  # the worker died, or the server is stopping
                log.error("signature_worker_failed", error=str(exc))
                raise VerifierUnavailable("the signature check could not be made") from exc
            return _unpack(outcome)
        # The CMS on a thread, the path on the loop: measured (bench/signin.py), the path
        # on the thread too held the loop up longer, the thread keeping the interpreter
        # lock for the whole check.
        message = await asyncio.to_thread(_check, pkcs7, content)
        return await self._finish(message, content, now)

    async def _finish(
        self, message: cms.SignedMessage, content: bytes | None, now: datetime
    ) -> Verified:
        """The checks after the signature's own: its signing time, then the path."""
        if content is None:  # a sign-in
            assert message.content is not None  # _check_attached refuses a detached one
            if message.signing_time is not None and abs(message.signing_time - now) > self._window:
                raise SignatureError(
                    "bad_signing_time",
                    "the signing time is too far from the server's clock: check the device's clock",
                )
            await self._validate_path(message, now)
            content = message.content
        else:
            if message.signing_time is not None and message.signing_time > now + self._window:
                raise SignatureError("bad_signing_time", "the signing time is in the future")
            await self._validate_path(message, message.signing_time or now)
        return Verified(
            content, cms.describe_signer(message.signer_certificate), message.signing_time
        )

    async def _validate_path(self, message: cms.SignedMessage, moment: datetime) -> None:
        signer = message.signer_certificate
        others = [c for c in message.certificates if c is not signer]
        try:
            async with AsyncExitStack() as stack:
                fetchers = None
                if self._check_revocation:
                    # One backend per check: its CRL and OCSP cache lives no longer
                    # than this answer, so a revocation is seen at the next sign-in.
                    backend = AIOHttpFetcherBackend(per_request_timeout=self._timeout)
                    fetchers = await stack.enter_async_context(backend)
                context = ValidationContext(
                    trust_roots=self._anchors,
                    moment=moment,
                    allow_fetching=self._check_revocation,
                    fetchers=fetchers,
                    revocation_mode="hard-fail" if self._check_revocation else "soft-fail",
                    # The CRL or OCSP answer is from now, the moment may be earlier
                    # (a detached signature's signing time); a revocation dated
                    # after the moment does not count against it.
                    retroactive_revinfo=True,
                )
                validator = CertificateValidator(signer, others, context)
                async with asyncio.timeout(self._timeout * _REQUESTS_PER_PATH):
                    await validator.async_validate_path()
        except RevokedError as exc:
            raise SignatureError("certificate_revoked", "the certificate is revoked") from exc
        except ExpiredError as exc:
            raise SignatureError("certificate_expired", "the certificate has expired") from exc
        except NotYetValidError as exc:
            raise SignatureError(
                "certificate_not_yet_valid", "the certificate is not valid yet"
            ) from exc
        except InsufficientRevinfoError as exc:
            log.warning("revocation_unavailable", error=str(exc))
            raise VerifierUnavailable("the certificate's revocation status is unknown") from exc
        except (PathBuildingError, PathValidationError, InvalidCertificateError) as exc:
            raise SignatureError(
                "untrusted_certificate", "the certificate is not from a trusted CA"
            ) from exc
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            log.warning("revocation_unavailable", error=repr(exc))
            raise VerifierUnavailable("the revocation source did not answer") from exc
        except cms.MALFORMED as exc:
            # A part of a certificate only path building reads (_check_signer parsed
            # the certificates, so this is rare).
            raise SignatureError(
                "bad_pkcs7", "a certificate in the signature is not readable"
            ) from exc


def _check(pkcs7: bytes, content: bytes | None) -> cms.SignedMessage:
    return _check_attached(pkcs7) if content is None else _check_detached(pkcs7, content)


# -- in a worker process -------------------------------------------------------------------

_worker: LocalVerifier | None = None


def _verifier_here(config: _Config) -> LocalVerifier:
    global _worker
    if _worker is None:
        _worker = LocalVerifier(
            config.trust_dir,
            config.check_revocation,
            timeout=config.timeout,
            signing_window=config.signing_window,
        )
    return _worker


def _warm(config: _Config) -> None:
    _verifier_here(config)


def _in_worker(pkcs7: bytes, content: bytes | None, now: datetime) -> _Outcome:
    # The pool's initializer (_warm) built this worker's verifier: the settings are not
    # pickled again with every sign-in.
    verifier = _worker
    assert verifier is not None

    async def check() -> Verified:
        return await verifier._finish(_check(pkcs7, content), content, now)

    try:
        return ("ok", asyncio.run(check()), "")
    except SignatureError as exc:
        return ("refused", exc.code, exc.message)
    except VerifierUnavailable as exc:
        return ("unavailable", str(exc), "")


def _unpack(outcome: _Outcome) -> Verified:
    if outcome[0] == "ok" and isinstance(outcome[1], Verified):
        return outcome[1]
    if outcome[0] == "refused":
        raise SignatureError(str(outcome[1]), str(outcome[2]))
    raise VerifierUnavailable(str(outcome[1]))


def _check_attached(pkcs7: bytes) -> cms.SignedMessage:
    message = cms.parse(pkcs7)
    if message.content is None:
        raise SignatureError("bad_pkcs7", "the signature does not hold its content")
    cms.check_content(message, message.content)
    return _check_signer(message)


def _check_detached(pkcs7: bytes, content: bytes) -> cms.SignedMessage:
    message = cms.parse(pkcs7)
    if message.content is not None and message.content != content:
        raise SignatureError("wrong_content", "the signature holds other content")
    cms.check_content(message, content)
    return _check_signer(message)


def _check_signer(message: cms.SignedMessage) -> cms.SignedMessage:
    cms.check_signature(message)
    for certificate in message.certificates:
        try:
            # Parse every field now, on this thread: path building reads them later.
            certificate.native  # noqa: B018
        except cms.MALFORMED as exc:
            raise SignatureError(
                "bad_pkcs7", "a certificate in the signature is not readable"
            ) from exc
    problem = cms.signing_certificate_problem(message.signer_certificate)
    if problem is not None:
        raise SignatureError("not_signing_certificate", problem)
    return message

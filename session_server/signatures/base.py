"""The verifier interface and what it answers: who signed, over what, when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

# The certificate subject attribute that carries the holder's PINFL (E-IMZO).
PINFL_OID = "1.2.860.3.16.1.2"


@dataclass(frozen=True, slots=True)
class Signer:
    """The signing certificate, as far as the server needs it."""

    pinfl: str | None  # subject attribute PINFL_OID; None when the certificate has none
    name: str  # the subject's common name
    serial: str  # the certificate's serial number, hexadecimal, lower case
    subject: str  # the whole subject, human readable
    issuer: str  # the issuer's subject, human readable
    valid_from: datetime
    valid_until: datetime


@dataclass(frozen=True, slots=True)
class Verified:
    """A signature that checked out."""

    content: bytes  # what was signed (for a detached signature: the content given)
    signer: Signer
    signed_at: datetime | None  # the signing-time attribute, where the signature has one


class SignatureError(Exception):
    """The signature is not good: `code` says why, for the client and the audit trail.

    Codes:
    - `bad_pkcs7`: not base64, not a CMS SignedData over data, not exactly one signer,
      the signer's certificate or the signed attributes missing; a detached signature
      where an attached one is wanted
    - `bad_signature`: the signature, the message digest or another signed attribute
      does not match (tampered, or over other content)
    - `unsupported_algorithm`: a digest or signature algorithm this verifier does not
      check (O'zDSt for the local verifier; SHA-1, MD5)
    - `untrusted_certificate`: no valid path to a trusted CA
    - `not_signing_certificate`: the signer's certificate is a CA certificate, or its
      key usage is neither digital signature nor non-repudiation
    - `certificate_expired`, `certificate_not_yet_valid`: at the time that counts (now
      for a sign-in, the signing time for a detached signature)
    - `certificate_revoked`
    - `bad_signing_time`: the signing time is in the future, or (for a sign-in) too
      far from now: the signing device's clock is wrong (E-IMZO-SERVER status -5)
    - `unknown_challenge`: E-IMZO-SERVER did not issue the signed challenge, or it
      expired or was used (status -20)
    - `wrong_content`: the signature holds other content than the one expected"""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class VerifierUnavailable(Exception):
    """The verifier could not decide (E-IMZO-SERVER or a revocation source is down or
    timed out): never a sign-in, and the client is told to try again (503)."""


@dataclass(frozen=True, slots=True)
class Challenge:
    """A challenge issued by the verifier's service, for the user's key to sign."""

    value: str
    ttl_seconds: int


@runtime_checkable
class ChallengeIssuer(Protocol):
    """A verifier that checks sign-in challenges itself (E-IMZO-SERVER's /backend/auth
    accepts only challenges it issued): sign-in must hand out its challenges."""

    async def challenge(self) -> Challenge:
        """A fresh challenge (VerifierUnavailable when the service cannot give one)."""
        ...


@runtime_checkable
class Lifecycle(Protocol):
    """A verifier with something to start and stop with the server (worker processes)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class Verifier(Protocol):
    async def verify_attached(
        self, pkcs7: bytes, *, client_address: str = "", host: str = ""
    ) -> Verified:
        """Check an attached signature (DER bytes of the PKCS#7) and return its content.

        `client_address` and `host` are the user's address and the site's name, which
        E-IMZO-SERVER wants with a sign-in (`X-Real-IP`, `Host`)."""
        ...

    async def verify_detached(self, pkcs7: bytes, content: bytes) -> Verified:
        """Check a detached signature over `content`."""
        ...

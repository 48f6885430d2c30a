"""The verifier interface and what it answers: who signed, over what, when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

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

    Codes: `bad_pkcs7` (not base64, not CMS SignedData, no signer), `bad_signature`
    (the signature or a signed attribute does not match), `untrusted_certificate` (no
    path to a trusted CA, or the signer is a CA), `certificate_expired`,
    `certificate_not_yet_valid`, `certificate_revoked`, `wrong_content` (an attached
    signature over other content than expected)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class VerifierUnavailable(Exception):
    """The verifier could not decide (E-IMZO-SERVER or a revocation source is down or
    timed out): never a sign-in, and the client is told to try again (503)."""


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

"""Reading a PKCS#7 / CMS SignedData and the checks that need nothing but its bytes.

Pure: no I/O, no clock, no network. `local.LocalVerifier` adds the certificate path
(trust anchors, validity, revocation); `eimzo_server` uses `parse` only to read the
content and the signing time of a signature E-IMZO-SERVER has checked. Every way the
input can be wrong ends in `SignatureError`, never in another exception: the bytes
come from the client."""

from __future__ import annotations

import binascii
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import algos, cms, core, x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from pyhanko_certvalidator.errors import AlgorithmNotSupported
from pyhanko_certvalidator.sig_validate import (
    DefaultSignatureValidator,
    SignatureValidationContext,
)

from session_server.signatures.base import PINFL_OID, SignatureError, Signer

# What asn1crypto raises, lazily, on malformed DER: its parsing is deferred until a
# field is read, so every read of client bytes sits inside this net. AttributeError is
# among them: a value of a type it cannot decode (REAL, say) has no `native`.
MALFORMED = (ValueError, TypeError, KeyError, IndexError, OverflowError, AttributeError)

# Digests we accept for the message digest and the signature. SHA-1 and MD5 are
# broken for signatures; O'zDSt 1106 is E-IMZO-SERVER's business.
DIGESTS = frozenset({"sha224", "sha256", "sha384", "sha512", "sha3_256", "sha3_384", "sha3_512"})
# Signature mechanisms (asn1crypto's names) and the key types each needs.
_MECHANISM_KEYS = {
    "rsassa_pkcs1v15": {"rsa"},
    "rsassa_pss": {"rsa", "rsassa_pss"},
    "ecdsa": {"ec"},
}
PINFL_DIGITS = 14

_validator = DefaultSignatureValidator()


@dataclass(frozen=True, slots=True)
class SignedMessage:
    """One CMS SignedData with exactly one signer, its parts read and checked for shape."""

    content: bytes | None  # the encapsulated content; None for a detached signature
    certificates: tuple[x509.Certificate, ...]  # every certificate the message carries
    signer_certificate: x509.Certificate  # the one the signer info names
    digest_algorithm: str  # asn1crypto's name or the dotted OID when it has none
    signature_algorithm: algos.SignedDigestAlgorithm
    signature: bytes
    signed_attributes: bytes  # DER of the signed attributes as signed (SET OF)
    message_digest: bytes
    signing_time: datetime | None


def pkcs7_from_base64(text: str | bytes) -> bytes:
    """The DER bytes of a base64 PKCS#7 as E-IMZO gives it (`bad_pkcs7` if not base64).

    Line breaks and spaces are allowed (PEM-like wrapping); anything else is not."""
    data = text.encode("ascii", "replace") if isinstance(text, str) else text
    try:
        der = binascii.a2b_base64(b"".join(data.split()), strict_mode=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureError("bad_pkcs7", "the signature is not base64") from exc
    if not der:
        raise SignatureError("bad_pkcs7", "the signature is empty")
    return der


def parse(der: bytes) -> SignedMessage:
    """Read a CMS ContentInfo holding SignedData over plain data, with one signer whose
    certificate it carries and whose signed attributes hold the content type and the
    message digest. Nothing is verified yet: see `check_content` and
    `check_signature`."""
    try:
        return _parse(der)
    except MALFORMED as exc:
        raise SignatureError("bad_pkcs7", "the signature is not a readable CMS SignedData") from exc


def _parse(der: bytes) -> SignedMessage:
    # strict: trailing bytes after the structure are refused, not ignored.
    info = cms.ContentInfo.load(der, strict=True)
    if info["content_type"].native != "signed_data":
        raise SignatureError("bad_pkcs7", "the signature is not a CMS SignedData")
    signed_data = info["content"]
    signer_infos = signed_data["signer_infos"]
    if len(signer_infos) != 1:
        raise SignatureError(
            "bad_pkcs7", f"the signature must have exactly one signer, not {len(signer_infos)}"
        )
    signer_info = signer_infos[0]

    encap = signed_data["encap_content_info"]
    if encap["content_type"].native != "data":
        raise SignatureError("bad_pkcs7", "the signed content is not plain data")
    encap_content = encap["content"]
    # bytes() joins the chunks of a BER constructed OCTET STRING (E-IMZO streams them).
    content = None if isinstance(encap_content, core.Void) else bytes(encap_content)

    carried = signed_data["certificates"]
    certificates = tuple(
        choice.chosen
        for choice in ([] if isinstance(carried, core.Void) else carried)
        if choice.name == "certificate"
    )
    signer_certificate = _signer_certificate(signer_info["sid"], certificates)

    attributes = signer_info["signed_attrs"]
    if isinstance(attributes, core.Void) or len(attributes) == 0:
        raise SignatureError("bad_pkcs7", "the signature has no signed attributes")
    values = _single_values(attributes)
    if "content_type" not in values or "message_digest" not in values:
        raise SignatureError(
            "bad_pkcs7", "the signed attributes lack the content type or the message digest"
        )
    if values["content_type"].native != "data":
        raise SignatureError("bad_signature", "the signed content type is not data")
    message_digest = values["message_digest"].native
    signing_time = values["signing_time"].native if "signing_time" in values else None
    if not isinstance(message_digest, bytes) or (
        signing_time is not None and not isinstance(signing_time, datetime)
    ):
        raise SignatureError("bad_pkcs7", "a signed attribute has the wrong type")

    digest_algorithm = signer_info["digest_algorithm"]["algorithm"]
    signature_algorithm = signer_info["signature_algorithm"]
    # Read these now, so that a malformed signer info fails here, inside the net.
    signature = signer_info["signature"].native
    signed_attributes = attributes.untag().dump()  # [0] IMPLICIT back to SET OF
    return SignedMessage(
        content=content,
        certificates=certificates,
        signer_certificate=signer_certificate,
        digest_algorithm=_name(digest_algorithm),
        signature_algorithm=signature_algorithm,
        signature=signature,
        signed_attributes=signed_attributes,
        message_digest=message_digest,
        signing_time=signing_time,
    )


def _name(oid: core.ObjectIdentifier) -> str:
    """asn1crypto's name for an OID it knows; the dotted form for one it does not."""
    return str(oid.native)


def _signer_certificate(
    sid: cms.SignerIdentifier, certificates: tuple[x509.Certificate, ...]
) -> x509.Certificate:
    if sid.name == "issuer_and_serial_number":
        issuer = sid.chosen["issuer"]
        serial = sid.chosen["serial_number"].native
        found = [c for c in certificates if c.serial_number == serial and c.issuer == issuer]
    else:
        key_id = sid.chosen.native
        found = [c for c in certificates if c.key_identifier == key_id]
    if not found:
        raise SignatureError("bad_pkcs7", "the signer's certificate is not in the signature")
    return found[0]


def _single_values(attributes: cms.CMSAttributes) -> dict[str, core.Asn1Value]:
    """The value of each signed attribute; RFC 5652 allows content type, message digest
    and signing time once each, with one value."""
    values: dict[str, core.Asn1Value] = {}
    for attribute in attributes:
        name = _name(attribute["type"])
        if name in ("content_type", "message_digest", "signing_time"):
            if name in values or len(attribute["values"]) != 1:
                raise SignatureError("bad_pkcs7", f"the signed attribute {name} is repeated")
            values[name] = attribute["values"][0]
    return values


def check_content(message: SignedMessage, content: bytes) -> None:
    """The message-digest attribute must be the digest of `content`."""
    algorithm = message.digest_algorithm
    if algorithm not in DIGESTS:
        raise SignatureError(
            "unsupported_algorithm", f"the digest algorithm {algorithm} is not supported here"
        )
    digest = hashlib.new(algorithm, content).digest()
    if not hmac.compare_digest(digest, message.message_digest):
        raise SignatureError("bad_signature", "the signature is not over this content")


def check_signature(message: SignedMessage) -> None:
    """The signature must be the signer certificate's key's signature over the signed
    attributes. The math is `cryptography`'s, through pyhanko-certvalidator's
    dispatch on the algorithm (RSA PKCS#1 v1.5, RSA-PSS, ECDSA)."""
    algorithm = message.signature_algorithm
    try:
        public_key = message.signer_certificate.public_key
        key_type = public_key.algorithm
    except MALFORMED as exc:
        raise SignatureError("bad_signature", "the signer's public key is not readable") from exc
    try:
        algorithm["parameters"].native  # noqa: B018 - parse them inside the net
        mechanism = algorithm.signature_algo
        # rsaEncryption names no hash: the signer info's digest algorithm is the one.
        try:
            hash_name = algorithm.hash_algo
        except ValueError:
            hash_name = message.digest_algorithm
        # RSA-PSS: MGF1 over the same digest, as everyone makes it; the rest is refused
        # here rather than half-supported by the library.
        pss_ok = mechanism != "rsassa_pss" or (
            algorithm["parameters"]["mask_gen_algorithm"]["algorithm"].native == "mgf1"
            and algorithm["parameters"]["mask_gen_algorithm"]["parameters"]["algorithm"].native
            == hash_name
        )
    except MALFORMED as exc:
        raise SignatureError(
            "unsupported_algorithm", "the signature algorithm is not supported here"
        ) from exc
    if mechanism not in _MECHANISM_KEYS or hash_name not in DIGESTS or not pss_ok:
        raise SignatureError(
            "unsupported_algorithm",
            f"the signature algorithm {mechanism} with {hash_name} is not supported here",
        )
    if key_type not in _MECHANISM_KEYS[mechanism]:
        raise SignatureError(
            "bad_signature", f"a {mechanism} signature cannot come from a {key_type} key"
        )
    try:
        _validator.validate_signature(
            message.signature,
            message.signed_attributes,
            public_key,
            algorithm,
            SignatureValidationContext(contextual_md_algorithm=hash_name),
        )
    except (AlgorithmNotSupported, UnsupportedAlgorithm) as exc:
        # e.g. a curve `cryptography` does not know
        raise SignatureError(
            "unsupported_algorithm", "the key or algorithm is not supported"
        ) from exc
    except (InvalidSignature, *MALFORMED) as exc:
        # A key or PSS parameters that do not parse are as bad as a wrong signature.
        raise SignatureError("bad_signature", "the signature does not match") from exc


def extract_pinfl(name: x509.Name) -> str | None:
    """The PINFL in a certificate subject: the attribute PINFL_OID, 14 digits. None when
    there is none, when it is not 14 digits, or when two disagree."""
    found: set[str] = set()
    for rdn in name.chosen:
        for attribute in rdn:
            if attribute["type"].dotted == PINFL_OID:
                found.add(_text(attribute["value"]))
    if len(found) != 1:
        return None
    (pinfl,) = found
    if len(pinfl) == PINFL_DIGITS and pinfl.isascii() and pinfl.isdigit():
        return pinfl
    return None


def _text(value: core.Asn1Value) -> str:
    """A name attribute's value as text; an attribute asn1crypto does not know arrives
    as Any and is read as whichever string type it holds."""
    try:
        if isinstance(value, core.Any):
            value = value.parsed
        if isinstance(value, core.AbstractString | x509.DirectoryString):
            return str(value.native)
    except MALFORMED:
        pass
    return ""


def describe_name(name: x509.Name) -> str:
    """A name for people, most specific part first, as asn1crypto's `human_friendly`
    does, with the PINFL attribute labelled `PINFL` instead of its OID."""
    parts = []
    for rdn in reversed(list(name.chosen)):
        values = []
        for attribute in rdn:
            kind = attribute["type"]
            label = "PINFL" if kind.dotted == PINFL_OID else kind.human_friendly
            values.append(f"{label}: {_text(attribute['value'])}")
        parts.append(" + ".join(values))
    return ", ".join(parts)


def describe_signer(certificate: x509.Certificate) -> Signer:
    """The base.Signer fields from a certificate."""
    try:
        validity = certificate["tbs_certificate"]["validity"]
        common_names = [
            _text(attribute["value"])
            for rdn in certificate.subject.chosen
            for attribute in rdn
            if attribute["type"].native == "common_name"
        ]
        return Signer(
            pinfl=extract_pinfl(certificate.subject),
            name=common_names[-1] if common_names else "",
            serial=format(certificate.serial_number, "x"),
            subject=describe_name(certificate.subject),
            issuer=describe_name(certificate.issuer),
            valid_from=validity["not_before"].native,
            valid_until=validity["not_after"].native,
        )
    except MALFORMED as exc:
        raise SignatureError("bad_pkcs7", "the signer's certificate is not readable") from exc


def signing_certificate_problem(certificate: x509.Certificate) -> str | None:
    """Why this certificate may not sign, or None. A CA certificate signs certificates,
    not documents; with a key usage extension, the key must be for digital signature
    or non-repudiation."""
    try:
        if certificate.ca:
            return "the signer's certificate is a CA certificate"
        usage = certificate.key_usage_value
        if usage is not None and not usage.native & {"digital_signature", "non_repudiation"}:
            return "the signer's certificate is not for signing"
    except MALFORMED:
        return "the signer's certificate has unreadable extensions"
    return None

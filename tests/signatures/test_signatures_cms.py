"""The pure CMS module: reading SignedData, the digest and signature checks, PINFL."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from asn1crypto import core, x509
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from session_server.signatures import cms
from session_server.signatures.base import PINFL_OID, SignatureError
from tests.pki import (
    DEPUTY_PINFL,
    TestPKI,
    not_signed_data,
    tamper_content,
    tamper_message_digest,
    tamper_signing_time,
)

CONTENT = b"kengash-challenge-0123456789abcdef"


def code_of(call: object, *args: object) -> str:
    assert callable(call)
    with pytest.raises(SignatureError) as caught:
        call(*args)
    return caught.value.code


def read_and_check(der: bytes, content: bytes | None = None) -> cms.SignedMessage:
    message = cms.parse(der)
    signed = content if content is not None else message.content
    assert signed is not None
    cms.check_content(message, signed)
    cms.check_signature(message)
    return message


@pytest.mark.parametrize("who", ["deputy_rsa", "deputy_ec"])
@pytest.mark.parametrize("stream", [False, True], ids=["der", "ber-stream"])
def test_an_attached_signature_reads_and_checks(pki: TestPKI, who: str, stream: bool) -> None:
    identity = getattr(pki, who)
    message = read_and_check(pki.sign(identity, CONTENT, stream=stream))
    assert message.content == CONTENT
    assert format(message.signer_certificate.serial_number, "x") == identity.serial
    assert message.digest_algorithm == "sha256"
    assert len(message.certificates) == 2  # the signer's and the intermediate CA's
    assert message.signing_time is not None
    assert abs(message.signing_time - datetime.now(UTC)) < timedelta(minutes=1)
    assert message.signed_attributes[0] == 0x31  # signed as a SET OF, not as [0]


def test_a_detached_signature_has_no_content(pki: TestPKI) -> None:
    message = read_and_check(pki.sign(pki.deputy_ec, CONTENT, detached=True), CONTENT)
    assert message.content is None


@pytest.mark.parametrize("digest", ["sha384", "sha512"])
def test_other_sha2_digests(pki: TestPKI, digest: str) -> None:
    assert (
        read_and_check(pki.sign(pki.deputy_rsa, CONTENT, digest=digest)).digest_algorithm == digest
    )


def test_rsa_pss(pki: TestPKI) -> None:
    message = read_and_check(pki.sign(pki.deputy_rsa, CONTENT, pss=True))
    assert message.signature_algorithm.signature_algo == "rsassa_pss"


def test_sha1_is_not_supported(pki: TestPKI) -> None:
    message = cms.parse(pki.sign(pki.deputy_ec, CONTENT, digest="sha1"))
    assert code_of(cms.check_content, message, CONTENT) == "unsupported_algorithm"
    assert code_of(cms.check_signature, message) == "unsupported_algorithm"


def test_other_content_does_not_match_the_digest(pki: TestPKI) -> None:
    message = cms.parse(pki.sign(pki.deputy_ec, CONTENT, detached=True))
    assert code_of(cms.check_content, message, CONTENT + b"!") == "bad_signature"


def test_a_tampered_message_digest(pki: TestPKI) -> None:
    message = cms.parse(tamper_message_digest(pki.sign(pki.deputy_rsa, CONTENT)))
    assert code_of(cms.check_content, message, CONTENT) == "bad_signature"
    assert code_of(cms.check_signature, message) == "bad_signature"


def test_a_tampered_signing_time_breaks_the_signature(pki: TestPKI) -> None:
    good = pki.sign(pki.deputy_ec, CONTENT)
    message = cms.parse(tamper_signing_time(good))
    cms.check_content(message, CONTENT)  # the digest still matches: only the time moved
    assert message.signing_time != cms.parse(good).signing_time
    assert code_of(cms.check_signature, message) == "bad_signature"


def test_tampered_content(pki: TestPKI) -> None:
    message = cms.parse(tamper_content(pki.sign(pki.deputy_ec, CONTENT), CONTENT))
    assert message.content is not None and message.content != CONTENT
    assert code_of(cms.check_content, message, message.content) == "bad_signature"


@pytest.mark.parametrize(
    "der",
    [b"", b"junk", b"\x30\x03abc", b"\x30\x80", not_signed_data(), bytes(range(256))],
    ids=["empty", "text", "short-sequence", "open-ber", "plain-data", "bytes"],
)
def test_junk_is_bad_pkcs7(der: bytes) -> None:
    assert code_of(cms.parse, der) == "bad_pkcs7"


def test_a_certificate_is_not_a_signature(pki: TestPKI) -> None:
    assert code_of(cms.parse, pki.deputy_ec.der) == "bad_pkcs7"


def test_trailing_bytes_are_refused(pki: TestPKI) -> None:
    assert code_of(cms.parse, pki.sign(pki.deputy_ec, CONTENT) + b"\x00") == "bad_pkcs7"


@pytest.mark.parametrize(
    "options",
    [["-nocerts"], ["-noattr"], ["-econtent_type", "1.2.3.4"]],
    ids=["no-certificates", "no-signed-attributes", "not-data"],
)
def test_incomplete_signatures_are_bad_pkcs7(pki: TestPKI, options: list[str]) -> None:
    assert code_of(cms.parse, pki.sign(pki.deputy_ec, CONTENT, extra=options)) == "bad_pkcs7"


def test_two_signers_are_refused(pki: TestPKI) -> None:
    second = ["-signer", str(pki.staff_ec.certificate), "-inkey", str(pki.staff_ec.key)]
    assert code_of(cms.parse, pki.sign(pki.deputy_ec, CONTENT, extra=second)) == "bad_pkcs7"


def test_describe_signer(pki: TestPKI) -> None:
    signer = cms.describe_signer(cms.parse(pki.sign(pki.deputy_rsa, CONTENT)).signer_certificate)
    assert signer.pinfl == DEPUTY_PINFL
    assert signer.name == "Aliyev Vali"
    assert signer.serial == pki.deputy_rsa.serial
    assert signer.serial == signer.serial.lower()
    assert signer.subject == (
        f"PINFL: {DEPUTY_PINFL}, Common Name: Aliyev Vali, Organization: Kengash Test, Country: UZ"
    )
    assert signer.issuer == "Common Name: Kengash Test CA, Organization: Kengash Test, Country: UZ"
    assert signer.valid_from < datetime.now(UTC) < signer.valid_until
    assert signer.valid_from.tzinfo is not None


def test_a_certificate_without_pinfl(pki: TestPKI) -> None:
    signer = cms.describe_signer(cms.parse(pki.sign(pki.no_pinfl, CONTENT)).signer_certificate)
    assert signer.pinfl is None
    assert "PINFL" not in signer.subject


def test_who_may_sign(pki: TestPKI) -> None:
    def problem(identity_name: str) -> str | None:
        certificate = cms.parse(pki.sign(getattr(pki, identity_name), CONTENT)).signer_certificate
        return cms.signing_certificate_problem(certificate)

    assert problem("deputy_ec") is None
    assert problem("ca_signer") == "the signer's certificate is a CA certificate"
    assert problem("not_for_signing") == "the signer's certificate is not for signing"


def _name(*pairs: tuple[str, core.Asn1Value]) -> x509.Name:
    rdns = [
        x509.RelativeDistinguishedName([x509.NameTypeAndValue({"type": kind, "value": value})])
        for kind, value in pairs
    ]
    # Through DER, as a certificate's subject arrives.
    return x509.Name.load(x509.Name(name="", value=x509.RDNSequence(rdns)).dump())


def _cn(text: str) -> tuple[str, core.Asn1Value]:
    return ("common_name", x509.DirectoryString(name="utf8_string", value=text))


@pytest.mark.parametrize("string_type", [core.PrintableString, core.UTF8String, core.NumericString])
def test_pinfl_in_any_string_type(string_type: type[core.Asn1Value]) -> None:
    assert cms.extract_pinfl(_name(_cn("A"), (PINFL_OID, string_type("12345678901234")))) == (
        "12345678901234"
    )


@pytest.mark.parametrize(
    "values",
    [[], ["1234567890123"], ["123456789012345"], ["1234567890123a"], ["12345678901234", "1"]],
    ids=["none", "13-digits", "15-digits", "letter", "two-that-disagree"],
)
def test_no_pinfl_unless_one_of_14_digits(values: list[str]) -> None:
    name = _name(_cn("A"), *((PINFL_OID, core.UTF8String(v)) for v in values))
    assert cms.extract_pinfl(name) is None


def test_the_same_pinfl_twice_is_one() -> None:
    name = _name(
        (PINFL_OID, core.UTF8String("12345678901234")),
        (PINFL_OID, core.UTF8String("12345678901234")),
    )
    assert cms.extract_pinfl(name) == "12345678901234"


@given(st.text(max_size=20))
def test_pinfl_is_the_value_exactly_when_it_is_14_ascii_digits(text: str) -> None:
    expected = text if len(text) == 14 and text.isascii() and text.isdigit() else None
    assert cms.extract_pinfl(_name(_cn("A"), (PINFL_OID, core.UTF8String(text)))) == expected


def test_base64() -> None:
    der = b"\x30\x03\x02\x01\x05"
    text = base64.b64encode(der).decode()
    assert cms.pkcs7_from_base64(text) == der
    assert cms.pkcs7_from_base64(f"{text[:3]}\r\n{text[3:]}\n".encode()) == der
    for bad in ["", "   ", "not base64!", "MIAG*", "QUJ", "=QUJD", "ЖЖЖЖ"]:
        assert code_of(cms.pkcs7_from_base64, bad) == "bad_pkcs7", bad


# -- whatever the bytes, nothing but SignatureError ---------------------------------------


@given(st.binary(max_size=600))
@settings(max_examples=300)
def test_random_bytes_only_ever_raise_signature_error(data: bytes) -> None:
    try:
        read_and_check(data, b"content")
    except SignatureError:
        pass


@given(data=st.data())
@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_spoiled_signature_only_ever_raises_signature_error(
    pki: TestPKI, data: st.DataObject
) -> None:
    good = _good_signatures(pki)
    der = data.draw(st.sampled_from(good))
    how = data.draw(st.sampled_from(["flip", "truncate", "splice"]))
    at = data.draw(st.integers(0, len(der) - 1))
    if how == "flip":
        spoiled = der[:at] + bytes([der[at] ^ data.draw(st.integers(1, 255))]) + der[at + 1 :]
    elif how == "truncate":
        spoiled = der[:at]
    else:
        spoiled = der[:at] + data.draw(st.binary(min_size=1, max_size=8)) + der[at:]
    try:
        message = read_and_check(spoiled, CONTENT)
        cms.describe_signer(message.signer_certificate)
        cms.signing_certificate_problem(message.signer_certificate)
    except SignatureError:
        pass


_GOOD: list[bytes] = []


def _good_signatures(pki: TestPKI) -> list[bytes]:
    if not _GOOD:
        _GOOD.extend(
            [
                pki.sign(pki.deputy_rsa, CONTENT),
                pki.sign(pki.deputy_ec, CONTENT, stream=True),
                pki.sign(pki.deputy_rsa, CONTENT, detached=True, pss=True),
            ]
        )
    return _GOOD

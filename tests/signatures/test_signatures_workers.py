"""The local verifier in worker processes answers exactly as it does in the server's own
process: the same Verified, the same refusal codes (which cross the process boundary)."""

from __future__ import annotations

import pytest

from session_server.signatures.base import SignatureError
from session_server.signatures.local import LocalVerifier
from tests.pki import TestPKI, tamper_message_digest


async def test_workers_give_the_same_answers(pki: TestPKI) -> None:
    here = LocalVerifier(pki.trust_dir, check_revocation=False)
    there = LocalVerifier(pki.trust_dir, check_revocation=False, workers=1)
    await there.start()
    try:
        good = pki.sign(pki.deputy_ec, b"challenge")
        assert await there.verify_attached(good) == await here.verify_attached(good)
        document = b"the decision's bytes"
        detached = pki.sign(pki.deputy_rsa, document, detached=True)
        assert await there.verify_detached(detached, document) == await here.verify_detached(
            detached, document
        )
        for bad, code in (
            (pki.sign(pki.expired, b"challenge"), "certificate_expired"),
            (pki.sign(pki.untrusted, b"challenge"), "untrusted_certificate"),
            (tamper_message_digest(good), "bad_signature"),
            (b"junk", "bad_pkcs7"),
        ):
            with pytest.raises(SignatureError) as refused:
                await there.verify_attached(bad)
            assert refused.value.code == code
    finally:
        await there.stop()

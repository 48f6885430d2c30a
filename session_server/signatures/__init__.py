"""Checking digital signatures (PKCS#7 / CMS SignedData): one interface, two ways.

`base.Verifier` is what the rest of the server uses: sign-in checks an attached
signature over its challenge; decisions will check the chair's detached signature over
a decision's bytes. `local.LocalVerifier` checks standard RSA and ECDSA signatures
against trusted CA certificates; `eimzo_server.EimzoServerVerifier` asks E-IMZO-SERVER,
which also knows Uzbekistan's O'zDSt algorithms. Nothing here knows about sign-in."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from session_server.settings import Settings
    from session_server.signatures.base import Verifier


def make_verifier(settings: Settings) -> Verifier | None:
    """E-IMZO-SERVER where its URL is set, else local verification against the trusted
    CA certificates of KENGASH_EIMZO_TRUST_DIR; None (E-IMZO sign-in off) without
    either. A trust directory that is missing, empty or holds something other than
    certificates raises ValueError: the server does not start half set up."""
    if settings.eimzo_server_url:
        from session_server.signatures.eimzo_server import EimzoServerVerifier

        return EimzoServerVerifier(settings.eimzo_server_url, settings.eimzo_timeout_seconds)
    if settings.eimzo_trust_dir is not None:
        from session_server.signatures.local import LocalVerifier

        return LocalVerifier(
            settings.eimzo_trust_dir,
            settings.eimzo_check_revocation,
            timeout=settings.eimzo_timeout_seconds,
            workers=settings.eimzo_workers,
        )
    return None


def demo_verifier(settings: Settings) -> Verifier | None:
    """In demo mode, a local verifier trusting the demo CA (session_server/demo_pki.py),
    so that the demo chair's signatures on decisions check out; None otherwise."""
    if not settings.demo or settings.environment == "production":
        return None
    from session_server import demo_pki
    from session_server.signatures.local import LocalVerifier

    demo_pki.ensure_ca(settings.var_dir)
    return LocalVerifier(demo_pki.trust_dir(settings.var_dir), check_revocation=False)

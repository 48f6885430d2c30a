"""The demo's own certificates, so that a demo chair can sign decisions: a demo CA
(made once under var/demo-pki/) and, on first use, a signing certificate for a chair
that carries the chair's PINFL as E-IMZO certificates do. Only in demo mode; the
signatures are real CMS, checked by the same verifier as any other."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

from session_server.db.models import utcnow
from session_server.signatures.base import PINFL_OID

_PINFL = x509.ObjectIdentifier(PINFL_OID)


def trust_dir(var_dir: Path) -> Path:
    """The folder of the demo CA's certificate (the demo verifier's trust anchors)."""
    return var_dir / "demo-pki" / "trust"


Made = tuple[x509.Certificate, ec.EllipticCurvePrivateKey]


def _kept(cert_path: Path, key_path: Path, make: Callable[[], Made]) -> Made:
    """The certificate and key in these files, made (and written) the first time."""
    if cert_path.exists() and key_path.exists():
        key = serialization.load_pem_private_key(key_path.read_bytes(), None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return x509.load_pem_x509_certificate(cert_path.read_bytes()), key
    cert, key = make()
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def ensure_ca(var_dir: Path) -> Made:
    folder = var_dir / "demo-pki"
    folder.mkdir(parents=True, exist_ok=True)
    return _kept(trust_dir(var_dir) / "demo-ca.pem", folder / "demo-ca.key", _make_ca)


def _make_ca() -> Made:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "E-Kengash Live demo CA")])
    now = utcnow()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return cert, key


def ensure_signer(var_dir: Path, full_name: str, pinfl: str) -> Made:
    """This person's demo signing certificate (made, with the CA, the first time)."""
    return _signer(var_dir, full_name, pinfl)


def _signer(var_dir: Path, full_name: str, pinfl: str) -> Made:
    folder = var_dir / "demo-pki"
    ca = ensure_ca(var_dir)
    return _kept(
        folder / f"{pinfl}.pem", folder / f"{pinfl}.key", lambda: _make_signer(ca, full_name, pinfl)
    )


def _make_signer(ca: Made, full_name: str, pinfl: str) -> Made:
    ca_cert, ca_key = ca
    key = ec.generate_private_key(ec.SECP256R1())
    now = utcnow()
    cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COMMON_NAME, full_name),
                    x509.NameAttribute(_PINFL, pinfl),
                ]
            )
        )
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=730))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def sign_detached(var_dir: Path, full_name: str, pinfl: str, content: bytes) -> bytes:
    """A detached CMS SignedData (DER) over `content` by this person's demo certificate."""
    cert, key = _signer(var_dir, full_name, pinfl)
    return (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(content)
        .add_signer(cert, key, hashes.SHA256())
        .sign(
            serialization.Encoding.DER,
            [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary],
        )
    )

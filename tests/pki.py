"""A test PKI made by the `openssl` command: CAs, E-IMZO-like certificates, signatures.

`TestPKI.create(directory)` makes a root CA, an intermediate CA under it and the
certificates below; the session fixture `pki` (tests/conftest.py) makes one per run.
Leaves carry the PINFL (subject attribute 1.2.860.3.16.1.2) the way E-IMZO
certificates do. `pki.sign(identity, content)` makes a DER CMS SignedData with
`openssl cms -sign` (attached, or `detached=True`; signed attributes with the signing
time); the module functions spoil a good signature in the ways a verifier must
catch. Needs OpenSSL 3 (`openssl ca -startdate/-enddate` for the dated ones)."""

from __future__ import annotations

import secrets
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import pytest

from session_server.signatures.base import PINFL_OID

KeyKind = Literal["rsa", "ec"]

_OID_SECTION = f"""\
oid_section = kengash_oids
[kengash_oids]
pinfl = {PINFL_OID}
[req]
distinguished_name = dn
[dn]
"""

_CA_CONFIG = """\
[ca]
default_ca = this_ca
[this_ca]
dir = {dir}
database = $dir/index.txt
new_certs_dir = $dir/issued
serial = $dir/serial
crlnumber = $dir/crlnumber
certificate = $dir/ca.pem
private_key = $dir/ca.key
default_md = sha256
default_days = 365
default_crl_days = 7
policy = policy_any
unique_subject = no
copy_extensions = none
[policy_any]
commonName = supplied
[root_ext]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[intermediate_ext]
basicConstraints = critical, CA:true, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
"""

# Deputies' and staff's PINFLs in the standard identities (14 digits, made up).
DEPUTY_PINFL = "31234567890123"
STAFF_PINFL = "41234567890124"


def openssl(*args: str | Path, input: bytes | None = None) -> bytes:
    """Run `openssl` and return its standard output; its error output on failure."""
    done = subprocess.run(
        ["openssl", *map(str, args)], input=input, capture_output=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {done.stderr.decode(errors='replace')}")
    return done.stdout


def _openssl_date(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M%SZ")


@dataclass(frozen=True)
class Identity:
    """A certificate and its key, with the certificates a signature carries with it."""

    label: str
    key: Path  # PEM private key
    certificate: Path  # PEM certificate
    chain: Path | None  # PEM intermediates to include in signatures
    pinfl: str | None
    common_name: str

    @property
    def der(self) -> bytes:
        return openssl("x509", "-in", self.certificate, "-outform", "DER")

    @property
    def serial(self) -> str:
        """Hexadecimal, lower case, no leading zeros (as base.Signer has it)."""
        out = openssl("x509", "-in", self.certificate, "-noout", "-serial").decode()
        return format(int(out.strip().split("=", 1)[1], 16), "x")


class CA:
    """One certificate authority run by `openssl ca`, with its database for revoking."""

    def __init__(self, directory: Path, subject: str, key: KeyKind, parent: CA | None) -> None:
        self.directory = directory
        directory.mkdir(parents=True)
        (directory / "issued").mkdir()
        (directory / "index.txt").write_text("")
        (directory / "serial").write_text(secrets.token_hex(8) + "\n")
        (directory / "crlnumber").write_text("01\n")
        self.config = directory / "ca.cnf"
        self.config.write_text(_OID_SECTION + _CA_CONFIG.format(dir=directory))
        self.key = directory / "ca.key"
        self.certificate = directory / "ca.pem"
        _generate_key(self.key, key)
        if parent is None:
            openssl(
                "req",
                "-config",
                self.config,
                "-new",
                "-x509",
                "-key",
                self.key,
                "-subj",
                subject,
                "-days",
                "3650",
                "-extensions",
                "root_ext",
                "-set_serial",
                str(secrets.randbits(63)),
                "-out",
                self.certificate,
            )
        else:
            request = directory / "ca.csr"
            openssl(
                "req",
                "-config",
                self.config,
                "-new",
                "-key",
                self.key,
                "-subj",
                subject,
                "-out",
                request,
            )
            parent.run_ca(
                "-in",
                request,
                "-out",
                self.certificate,
                "-days",
                "3000",
                "-extensions",
                "intermediate_ext",
                "-extfile",
                parent.config,
            )
        self._lock = threading.Lock()

    def run_ca(self, *args: str | Path) -> bytes:
        return openssl("ca", "-batch", "-notext", "-preserveDN", "-config", self.config, *args)

    def issue(
        self,
        directory: Path,
        subject: str,
        key: KeyKind,
        *,
        not_before: datetime | None,
        not_after: datetime | None,
        key_usage: str,
        crl_url: str | None,
    ) -> Path:
        key_path, request, certificate = (directory / n for n in ("key.pem", "csr.pem", "cert.pem"))
        _generate_key(key_path, key)
        openssl(
            "req",
            "-config",
            self.config,
            "-new",
            "-key",
            key_path,
            "-subj",
            subject,
            "-out",
            request,
        )
        extensions = directory / "ext.cnf"
        lines = [
            "[leaf]",
            "basicConstraints = critical, CA:false",
            f"keyUsage = critical, {key_usage}",
            "subjectKeyIdentifier = hash",
            "authorityKeyIdentifier = keyid",
        ]
        if crl_url:
            lines.append(f"crlDistributionPoints = URI:{crl_url}")
        extensions.write_text("\n".join(lines) + "\n")
        now = datetime.now(UTC)
        start = not_before or now - timedelta(minutes=10)
        end = not_after or now + timedelta(days=365)
        with self._lock:  # `openssl ca` keeps its database in files
            self.run_ca(
                "-in",
                request,
                "-out",
                certificate,
                "-extfile",
                extensions,
                "-extensions",
                "leaf",
                "-startdate",
                _openssl_date(start),
                "-enddate",
                _openssl_date(end),
            )
        return certificate

    def revoke(self, certificate: Path) -> None:
        with self._lock:
            self.run_ca("-revoke", certificate, "-crl_reason", "keyCompromise")

    def crl(self) -> bytes:
        """The CA's current CRL, DER."""
        with self._lock:
            crl_pem = self.run_ca("-gencrl")
        return openssl("crl", "-outform", "DER", input=crl_pem)


def _generate_key(path: Path, kind: KeyKind) -> None:
    if kind == "rsa":
        openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", path)
    else:
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path)


class TestPKI:
    """Root → intermediate → leaves, an untrusted root, and the bad certificates.

    `trust_dir` holds the root certificate only (what KENGASH_EIMZO_TRUST_DIR holds);
    signatures carry the intermediate."""

    __test__ = False  # not a test class, despite the name

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._count = 0
        self.root = CA(directory / "root", "/C=UZ/O=Kengash Test/CN=Kengash Test Root", "rsa", None)
        self.intermediate = CA(
            directory / "intermediate", "/C=UZ/O=Kengash Test/CN=Kengash Test CA", "ec", self.root
        )
        self.other_root = CA(
            directory / "other-root", "/C=UZ/O=Elsewhere/CN=Untrusted Root", "ec", None
        )
        self.trust_dir = directory / "trust"
        self.trust_dir.mkdir()
        (self.trust_dir / "root.pem").write_bytes(self.root.certificate.read_bytes())
        self.chain = directory / "chain.pem"
        self.chain.write_bytes(self.intermediate.certificate.read_bytes())

        now = datetime.now(UTC)
        self.deputy_rsa = self.issue("Aliyev Vali", pinfl=DEPUTY_PINFL, key="rsa")
        self.deputy_ec = self.issue("Karimova Nodira", pinfl="31234567890125", key="ec")
        self.staff_ec = self.issue("Secretary Staff", pinfl=STAFF_PINFL, key="ec")
        self.no_pinfl = self.issue("No Pinfl", pinfl=None, key="ec")
        self.expired = self.issue(
            "Expired Deputy",
            pinfl="31234567890126",
            key="ec",
            not_before=now - timedelta(days=730),
            not_after=now - timedelta(days=365),
        )
        self.not_yet_valid = self.issue(
            "Future Deputy",
            pinfl="31234567890127",
            key="ec",
            not_before=now + timedelta(days=365),
            not_after=now + timedelta(days=730),
        )
        self.not_for_signing = self.issue(
            "Encryption Only", pinfl="31234567890128", key="rsa", key_usage="keyEncipherment"
        )
        self.untrusted = self.issue(
            "Untrusted Deputy", pinfl="31234567890129", key="ec", issuer=self.other_root
        )
        # The intermediate CA's own key and certificate, used as if it were a signer's.
        self.ca_signer = Identity(
            "intermediate CA",
            self.intermediate.key,
            self.intermediate.certificate,
            None,
            None,
            "Kengash Test CA",
        )

    @classmethod
    def create(cls, directory: Path) -> TestPKI:
        return cls(directory)

    def issue(
        self,
        common_name: str,
        *,
        pinfl: str | None,
        key: KeyKind = "ec",
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        key_usage: str = "digitalSignature, nonRepudiation",
        crl_url: str | None = None,
        issuer: CA | None = None,
    ) -> Identity:
        """A new leaf certificate from the intermediate CA (or `issuer`), valid from ten
        minutes ago for a year unless told otherwise."""
        self._count += 1
        directory = self.directory / "leaves" / f"{self._count:03d}"
        directory.mkdir(parents=True)
        subject = f"/C=UZ/O=Kengash Test/CN={common_name}"
        if pinfl is not None:
            subject += f"/pinfl={pinfl}"
        ca = issuer or self.intermediate
        certificate = ca.issue(
            directory,
            subject,
            key,
            not_before=not_before,
            not_after=not_after,
            key_usage=key_usage,
            crl_url=crl_url,
        )
        chain = self.chain if ca is self.intermediate else None
        return Identity(common_name, directory / "key.pem", certificate, chain, pinfl, common_name)

    def revoke(self, identity: Identity) -> None:
        self.intermediate.revoke(identity.certificate)

    def crl(self) -> bytes:
        """The intermediate CA's CRL (DER), with every certificate revoked so far."""
        return self.intermediate.crl()

    def sign(
        self,
        identity: Identity,
        content: bytes,
        *,
        detached: bool = False,
        digest: str = "sha256",
        pss: bool = False,
        stream: bool = False,
        extra: Sequence[str | Path] = (),
    ) -> bytes:
        """`openssl cms -sign` over `content`: DER, `-binary`, signed attributes with
        the signing time, the signer's certificate and its chain. `stream` makes the
        BER indefinite-length form E-IMZO produces; `extra` adds `openssl cms` options
        (`-nocerts`, `-noattr`, a second `-signer`/`-inkey`, ...)."""
        args: list[str | Path] = [
            "cms",
            "-sign",
            "-binary",
            "-outform",
            "DER",
            "-md",
            digest,
            "-signer",
            identity.certificate,
            "-inkey",
            identity.key,
        ]
        if identity.chain is not None:
            args += ["-certfile", identity.chain]
        if not detached:
            args.append("-nodetach")
        if pss:
            args += ["-keyopt", "rsa_padding_mode:pss"]
        if stream:
            args.append("-stream")
        return openssl(*args, *extra, input=content)


# --- Spoiling a good signature -------------------------------------------------------

_MESSAGE_DIGEST_OID = bytes.fromhex("06092a864886f70d010904")  # 1.2.840.113549.1.9.4
_SIGNING_TIME_OID = bytes.fromhex("06092a864886f70d010905")  # 1.2.840.113549.1.9.5


def tamper_message_digest(der: bytes) -> bytes:
    """Flip a byte inside the message-digest signed attribute."""
    at = der.index(_MESSAGE_DIGEST_OID) + len(_MESSAGE_DIGEST_OID)
    # SET { OCTET STRING { digest } }: 31 len 04 len digest...
    assert der[at] == 0x31 and der[at + 2] == 0x04
    return _flip(der, at + 4)


def tamper_signing_time(der: bytes) -> bytes:
    """Change a digit of the signing time: still a valid time, but not the one signed."""
    at = der.index(_SIGNING_TIME_OID) + len(_SIGNING_TIME_OID)
    # SET { UTCTime "YYMMDDHHMMSSZ" }: the tens of the minutes are at offset 8.
    assert der[at] == 0x31 and der[at + 2] in (0x17, 0x18)
    digit = at + 4 + 8
    swapped = b"1" if der[digit : digit + 1] != b"1" else b"2"
    return der[:digit] + swapped + der[digit + 1 :]


def tamper_content(der: bytes, content: bytes) -> bytes:
    """Flip a byte of the encapsulated content of an attached signature."""
    return _flip(der, der.index(content))


def _flip(der: bytes, at: int) -> bytes:
    return der[:at] + bytes([der[at] ^ 0x01]) + der[at + 1 :]


def not_signed_data() -> bytes:
    """Well-formed DER that is a CMS ContentInfo, but of plain data, not SignedData."""
    # ContentInfo { id-data, [0] EXPLICIT OCTET STRING "hello" }
    body = bytes.fromhex("06092a864886f70d010701") + bytes.fromhex("a0070405") + b"hello"
    return bytes([0x30, len(body)]) + body


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPKI:
    """One test PKI for the whole run (a second or two of `openssl`)."""
    import shutil

    from tests.conftest import skip_or_fail

    if shutil.which("openssl") is None:
        skip_or_fail("the openssl command is not installed")
    return TestPKI.create(tmp_path_factory.mktemp("pki"))

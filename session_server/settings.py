"""Settings from the environment (12-factor); see docs/operations.md "Settings"."""

from __future__ import annotations

import base64
import re
import secrets
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

import tlog

# In production KENGASH_SECRET_KEY must have at least this many bytes (SHA-256's size).
MIN_SECRET_BYTES = 32
# stun:host[:port], turn:host[:port][?transport=udp|tcp], turns:… (RFC 7064, 7065).
_ICE_HOST = r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?"
_ICE_URL = re.compile(rf"stuns?:{_ICE_HOST}|turns?:{_ICE_HOST}(\?transport=(udp|tcp))?")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KENGASH_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///var/kengash.db"
    redis_url: str | None = None
    bus_channel: str = "kengash:session-log"
    demo: bool = False
    environment: Literal["development", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = 8000
    var_dir: Path = Path("var")
    # Signs session tokens; generated once under var/ when unset, so restarts keep logins.
    secret_key: str | None = None
    # Set: /metrics wants `Authorization: Bearer <it>`. Unset: open in development, 404
    # in production (the metrics tell who is connected and how busy the server is).
    metrics_token: str | None = None
    token_ttl_seconds: int = Field(default=12 * 3600, gt=0)
    # E-IMZO sign-in (session_server/signatures): E-IMZO-SERVER where its URL is set,
    # else local verification against the CA certificates in the trust directory.
    eimzo_server_url: str | None = None
    eimzo_trust_dir: Path | None = None
    # Local verification asks a certificate's CRL or OCSP responder, where it names one.
    eimzo_check_revocation: bool = True
    # For each request to E-IMZO-SERVER or to a CRL or OCSP responder.
    eimzo_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    # Worker processes that check signatures locally, below the server's priority
    # (session_server/background.py); 0: on a thread of the server's own process, which
    # holds its sockets up longer (docs/performance.md, bench/signin.py).
    eimzo_workers: int = Field(default=1, ge=0, le=32)
    # The E-IMZO app's API keys for this site's domains, as NIC issues them, which the
    # sign-in card gives the app before anything else: comma-separated `domain:KEY`
    # (`live.example.uz:96D0…`). Unset: the app answers only where it needs no key.
    eimzo_api_keys: str = ""
    # One ID (sso.egov.uz) sign-in, on where a client id is set (auth/oneid.py checks the
    # rest at start). The one address is both where the browser signs in and where the
    # server exchanges the code and asks who it is.
    oneid_url: str = "https://sso.egov.uz/sso/oauth/Authorization.do"
    oneid_client_id: str | None = None
    oneid_client_secret: SecretStr | None = None  # SecretStr: never shown in a repr or log
    # This server's /api/auth/oneid/callback as the browser sees it, as registered.
    oneid_redirect_uri: str | None = None
    oneid_scope: str | None = None  # unset: the client id, as One ID usually gives it
    # For each request to One ID (the code, then the person).
    oneid_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    # The public ledger (session_server/ledger/). Its checkpoints are signed by this
    # Ed25519 key, a C2SP note signer key (PRIVATE+KEY+name+id+key); generated once
    # under var/ when unset. The origin is the log's name, the first line of every
    # checkpoint: in production the site's host and path, e.g. kengash.uz/ledger.
    ledger_key: SecretStr | None = None
    ledger_origin: str = Field(default="localhost/kengash-ledger", min_length=1, max_length=200)
    # How often each process appends what the database owes the ledger (a process that
    # died between a commit and its entry); entries normally follow their commit at once.
    ledger_catch_up_seconds: float = Field(default=60.0, ge=1, le=3600)
    # The broadcast (session_server/broadcasting/). The host addresses offered to WebRTC
    # peers as ICE candidates, comma-separated; unset: every interface's but 127.0.0.1.
    ice_hosts: str = ""
    # The STUN and TURN servers WebRTC peers (and the server's own) use, comma-separated
    # `stun:`/`turn:`/`turns:` URLs (RFC 7064, 7065): announced to WHIP publishers and
    # WHEP viewers as `Link: rel="ice-server"` (RFC 9725 section 4.6). Unset: none.
    ice_servers: str = ""
    # TURN credentials: coturn's shared secret (`use-auth-secret`), from which each answer
    # gets a username and password that expire after turn_ttl_seconds; or else one fixed
    # username and password. Both unset: the TURN URLs are announced without credentials.
    turn_secret: SecretStr | None = None
    turn_ttl_seconds: int = Field(default=24 * 3600, ge=60, le=7 * 24 * 3600)
    turn_username: str | None = None
    turn_credential: SecretStr | None = None
    # Where each sitting's HLS segments and playlists are written (one folder a sitting):
    # served at /hls/{session}/, and kept as its recording.
    hls_dir: Path | None = None
    # How often the audience (WHEP viewers, HLS players) is counted and, when it changed,
    # logged as broadcast.audience for the consoles.
    audience_seconds: float = Field(default=5.0, ge=0.2, le=300)
    # WebRTC (WHEP) viewers this server takes in all, and from one address; HLS (which a
    # CDN can carry) has no cap.
    whep_max_viewers: int = Field(default=100, ge=0, le=10_000)
    whep_max_per_address: int = Field(default=20, ge=1, le=10_000)
    # The site's address as citizens reach it, for links and QR codes on documents;
    # unset: the address each request came to.
    public_url: str = ""
    # Face ID (biometrics/, session_server/faceid/). The AES-GCM key that seals face
    # descriptors at rest: 32 bytes as base64 or hex; generated once under var/ when unset.
    face_key: SecretStr | None = None
    # Processes that do face work (detection, landmarks, descriptors), below the server's
    # priority: the sockets come first (docs/performance.md, bench/face_load.py).
    face_workers: int = Field(default=2, ge=1, le=32)
    # The largest distance between an enrolled face and a camera frame that is the same
    # person; unset: biometrics.matching.THRESHOLD (docs/faceid.md says how it was chosen).
    face_threshold: float | None = Field(default=None, gt=0, lt=1)
    # dlib's 68-point landmark model (liveness only); unset: face_recognition_models' file.
    # Its training data excludes commercial use (docs/faceid.md): a replacement goes here.
    face_landmarks_model: Path | None = None
    # Face checks waiting for a worker, at most; past that a check is refused as busy.
    face_queue: int = Field(default=64, ge=1, le=10_000)
    log_format: Literal["console", "json"] = "console"
    log_level: str = "INFO"
    # WebSocket limits: a frame above max_frame_bytes is refused; a socket sending more
    # than burst messages faster than rate_per_second is refused, then closed.
    ws_max_frame_bytes: int = 16 * 1024
    # A deputy's socket carries camera frames with a ballot where the reglament asks for
    # a face check: one JPEG, or a second of them for `live`.
    ws_max_face_frame_bytes: int = Field(default=1536 * 1024, ge=16 * 1024)
    ws_rate_per_second: float = 20.0
    ws_burst: int = 40
    # Sockets on /ws per client address (after X-Forwarded-For from trusted proxies). A
    # chamber's tablets may share one address behind NAT: generous.
    ws_max_per_address: int = Field(default=500, gt=0)
    # Browser origins allowed on /ws besides the server's own: comma-separated
    # `https://host[:port]`, or `*` for any (docs/protocol.md "Connecting").
    allowed_origins: str = ""
    # A connection that has not sent its request headers in this time is closed.
    http_header_timeout_seconds: float = Field(default=10.0, gt=0)
    # Open connections per process; unset: derived from the open-files limit (guard.py).
    max_connections: int | None = Field(default=None, gt=0)
    # How often each process looks for sign-ins ended elsewhere, and for expired tokens,
    # to close their sockets (live/signins.py).
    signin_check_seconds: float = Field(default=2.0, gt=0, le=60)
    # How many recent events each live session keeps in memory for resuming clients.
    replay_buffer: int = 2000

    @model_validator(mode="after")
    def _no_demo_in_production(self) -> Settings:
        if self.environment == "production":
            if self.demo:
                raise ValueError("KENGASH_DEMO=1 is refused with KENGASH_ENVIRONMENT=production")
            # Every replica must verify every other's tokens: one key, set by the operator.
            if not self.secret_key:
                raise ValueError("KENGASH_SECRET_KEY must be set in production")
            # A short key can be guessed offline from any one token (HMAC): at least as
            # many bytes as the hash has.
            if len(self.secret_key.encode()) < MIN_SECRET_BYTES:
                raise ValueError(
                    f"KENGASH_SECRET_KEY must be at least {MIN_SECRET_BYTES} bytes in production"
                )
        return self

    @field_validator("ice_servers")
    @classmethod
    def _ice_server_urls(cls, value: str) -> str:
        for url in (u.strip() for u in value.split(",")):
            # A URL goes into a Link header between < and >: nothing that could end it.
            if url and not _ICE_URL.fullmatch(url):
                raise ValueError(f"{url!r} is not a stun:, turn: or turns: URL")
        return value

    @model_validator(mode="after")
    def _turn_pair(self) -> Settings:
        if (self.turn_username is None) != (self.turn_credential is None):
            raise ValueError("set KENGASH_TURN_USERNAME and KENGASH_TURN_CREDENTIAL together")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @cached_property
    def token_secret(self) -> str:
        if self.secret_key:
            return self.secret_key
        path = self.var_dir / "secret.key"
        if not path.exists():
            self.var_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()

    @cached_property
    def face_key_bytes(self) -> bytes:
        """The 32-byte key of the face templates: KENGASH_FACE_KEY, or var/face.key."""
        if self.face_key is not None:
            return decode_key(self.face_key.get_secret_value(), "KENGASH_FACE_KEY")
        path = self.var_dir / "face.key"
        if not path.exists():
            self.var_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
            path.chmod(0o600)
        return decode_key(path.read_text().strip(), str(path))


def hls_dir(settings: Settings) -> Path:
    return settings.hls_dir or settings.var_dir / "hls"


def ice_hosts(settings: Settings) -> list[str]:
    return [h.strip() for h in settings.ice_hosts.split(",") if h.strip()]


def ledger_signer(settings: Settings) -> tlog.Signer:
    """KENGASH_LEDGER_KEY, else var/ledger.key, made once with the origin as its name."""
    if settings.ledger_key is not None:
        text = settings.ledger_key.get_secret_value().strip()
        source = "KENGASH_LEDGER_KEY"
    else:
        path = settings.var_dir / "ledger.key"
        if not path.exists():
            settings.var_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(tlog.Signer.generate(_key_name(settings.ledger_origin)).skey())
            path.chmod(0o600)
        text, source = path.read_text().strip(), str(path)
    try:
        return tlog.Signer.from_skey(text)
    except tlog.NoteError as exc:
        raise ValueError(f"{source}: not a note signer key ({exc})") from exc


def _key_name(origin: str) -> str:
    # A note key's name has no spaces or plus signs.
    return origin.replace(" ", "-").replace("+", "-")


def decode_key(text: str, name: str) -> bytes:
    """32 bytes written as hex or base64; ValueError naming `name` otherwise."""
    text = text.strip()
    try:
        key = bytes.fromhex(text) if len(text) == 64 else base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise ValueError(f"{name} is neither hex nor base64") from exc
    if len(key) != 32:
        raise ValueError(f"{name} must be 32 bytes (AES-256), not {len(key)}")
    return key

"""Inspecting a WHIP or WHEP offer (SDP, RFC 8866) before any WebRTC work.

`inspect_offer` reads the offer a publisher (OBS, the chair's browser) or a viewer POSTs and
either describes it (`Offer`) or refuses it with the HTTP status and an error code
(`SdpError`), so a junk or unusable offer never reaches aiortc and never costs a
peer connection. Pure: no I/O, no clock.

What we can use: for publishing, video in H.264 or VP8 (both decoded here) and, if there is
audio, Opus; for playing, H.264 the viewer can take as is (we forward the encoded
Constrained Baseline stream, `profile-level-id=42e01f` family, packetization-mode=1) and,
optionally, Opus.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

Role = Literal["publish", "play"]
Direction = Literal["sendonly", "recvonly", "sendrecv", "inactive"]

# An offer is a few KiB (Chrome with simulcast: ~10 KiB); anything near this is an attack.
MAX_OFFER_BYTES = 64 * 1024

_DIRECTIONS: Mapping[str, Direction] = {
    "sendonly": "sendonly",
    "recvonly": "recvonly",
    "sendrecv": "sendrecv",
    "inactive": "inactive",
}
# RFC 8866 section 5: the types allowed in each part. Anything else is refused, as the RFC
# lets a parser do with a type letter it does not understand.
_SESSION_TYPES = frozenset("vosiuepcbtrzka")
_MEDIA_TYPES = frozenset("icbka")
# Control characters other than HT are not SDP text (and must not reach the logs).
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_LINE = re.compile(r"[a-z]=")
_TOKEN = re.compile(r"[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+")  # RFC 8866 token-char
_ICE_CHARS = re.compile(r"[A-Za-z0-9+/]{4,256}")  # RFC 8839 ice-ufrag
_RTP_PROTO = re.compile(r"(?:UDP/TLS/|TCP/TLS/|TCP/DTLS/|UDP/)?RTP/S?AVPF?\Z")
# RFC 3551 static payload types, for offers that list them without an rtpmap.
_STATIC: Mapping[int, tuple[str, int, int | None]] = {
    0: ("PCMU", 8000, 1),
    8: ("PCMA", 8000, 1),
    9: ("G722", 8000, 1),
    13: ("CN", 8000, 1),
}


class SdpError(Exception):
    """An offer we refuse: `status` and `code` go into the HTTP problem response."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _bad(message: str) -> SdpError:
    return SdpError(400, "bad_sdp", message)


@dataclass(frozen=True)
class H264Profile:
    """The three bytes of `profile-level-id` (RFC 6184 section 8.1)."""

    profile_idc: int
    profile_iop: int
    level_idc: int

    @property
    def constrained_baseline(self) -> bool:
        # RFC 6184 table 5: Constrained Baseline is signalled as Baseline with
        # constraint_set1, or as Main with constraint_set0, or Extended with set0 and set1.
        iop = self.profile_iop
        if iop & 0x0F:
            return False
        if self.profile_idc == 0x42:
            return bool(iop & 0x40)
        if self.profile_idc == 0x4D:
            return bool(iop & 0x80)
        if self.profile_idc == 0x58:
            return iop & 0xC0 == 0xC0
        return False

    @property
    def baseline(self) -> bool:
        # Plain Baseline (no constraint_set1): a Baseline decoder takes a Constrained
        # Baseline stream too, since that is a subset. The low bits are reserved (zero).
        return self.profile_idc == 0x42 and not self.profile_iop & 0x0F


@dataclass(frozen=True)
class Codec:
    """One payload type of an m= section: rtpmap and fmtp together."""

    payload_type: int
    name: str
    clock_rate: int
    channels: int | None = None
    params: Mapping[str, str] = field(default_factory=dict)

    def is_(self, name: str, clock_rate: int, channels: int | None = None) -> bool:
        # Encoding names are case-insensitive (RFC 4855).
        return (
            self.name.lower() == name.lower()
            and self.clock_rate == clock_rate
            and (channels is None or self.channels == channels)
        )

    @property
    def packetization_mode(self) -> int:
        try:
            return int(self.params.get("packetization-mode", "0"))
        except ValueError:
            return -1

    @property
    def h264_profile(self) -> H264Profile | None:
        """The profile of an H.264 payload type; None if not H.264 or not readable."""
        if not self.is_("H264", 90000):
            return None
        # Absent, RFC 6184 says Baseline level 1 (42 00 0a is the common reading).
        value = self.params.get("profile-level-id", "42000a")
        if not re.fullmatch(r"[0-9A-Fa-f]{6}", value):
            return None
        raw = bytes.fromhex(value)
        return H264Profile(raw[0], raw[1], raw[2])


@dataclass(frozen=True)
class Media:
    """One m= section."""

    index: int
    kind: str
    port: int
    proto: str
    mid: str | None
    direction: Direction
    bundle_only: bool
    codecs: tuple[Codec, ...]

    @property
    def active(self) -> bool:
        # Port 0 rejects the section, unless it is bundle-only (RFC 9143): then it rides on
        # the bundle's transport.
        return self.port != 0 or self.bundle_only

    @property
    def sends(self) -> bool:
        return self.direction in ("sendonly", "sendrecv")

    @property
    def receives(self) -> bool:
        return self.direction in ("recvonly", "sendrecv")


@dataclass(frozen=True)
class Offer:
    """What an accepted offer holds, and what we would use of it."""

    role: Role
    media: tuple[Media, ...]
    video: Media
    video_codec: Codec
    audio: Media | None
    audio_codec: Codec | None
    bundle: tuple[str, ...]
    ice_lite: bool
    trickle: bool
    ice_ufrag: str | None  # for the logs only, never for a decision

    @property
    def codecs(self) -> dict[str, tuple[Codec, ...]]:
        """Codecs per media kind, over the active sections, in the offerer's order."""
        out: dict[str, tuple[Codec, ...]] = {}
        for m in self.media:
            if m.active:
                out[m.kind] = out.get(m.kind, ()) + m.codecs
        return out

    @property
    def directions(self) -> dict[str, Direction]:
        """The direction of the first active section of each kind."""
        out: dict[str, Direction] = {}
        for m in self.media:
            if m.active and m.kind not in out:
                out[m.kind] = m.direction
        return out


def inspect_offer(text: str | bytes, *, role: Role) -> Offer:
    """Read an SDP offer for `role`; raise `SdpError` if we cannot or will not take it."""
    lines = _lines(text)
    session, sections = _split(lines)
    attrs = _attributes(session)
    session_direction = _direction(attrs, "sendrecv")
    media = tuple(
        _media(i, mline, _attributes(body), session_direction)
        for i, (mline, body) in enumerate(sections)
    )
    if not media:
        raise _bad("the offer has no m= section")
    bundle = _check_bundle(attrs, media)

    ufrag = _first(attrs, "ice-ufrag")
    trickle = _trickle(attrs)
    for (_, body), m in zip(sections, media, strict=True):
        if not m.active:
            continue
        a = _attributes(body)
        ufrag = ufrag or _first(a, "ice-ufrag")
        trickle = trickle or _trickle(a)
    if ufrag is not None and not _ICE_CHARS.fullmatch(ufrag):
        raise _bad("ice-ufrag is not ICE characters")

    if role == "publish":
        video, video_codec, audio, audio_codec = _for_publish(media)
    else:
        video, video_codec, audio, audio_codec = _for_play(media)
    return Offer(
        role=role,
        media=media,
        video=video,
        video_codec=video_codec,
        audio=audio,
        audio_codec=audio_codec,
        bundle=bundle,
        ice_lite=any(name == "ice-lite" for name, _ in attrs),
        trickle=trickle,
        ice_ufrag=ufrag,
    )


# --- Lines and structure (RFC 8866) -------------------------------------------------------


def _lines(text: str | bytes) -> list[str]:
    if isinstance(text, bytes):
        if len(text) > MAX_OFFER_BYTES:
            raise _bad("the offer is larger than 64 KiB")
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise _bad("the offer is not UTF-8") from None
    else:
        # A str is at most as many characters as its UTF-8 has bytes: cheap first cut.
        if len(text) > MAX_OFFER_BYTES:
            raise _bad("the offer is larger than 64 KiB")
        try:
            size = len(text.encode("utf-8"))
        except UnicodeEncodeError:  # lone surrogates, from a lenient decode upstream
            raise _bad("the offer is not UTF-8") from None
        if size > MAX_OFFER_BYTES:
            raise _bad("the offer is larger than 64 KiB")
    # Lines end in CRLF; RFC 8866 asks parsers to take a bare LF as well. A missing final
    # line end is tolerated; an empty line or a lone CR inside a line is not.
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    out = []
    for n, line in enumerate(lines, 1):
        if line.endswith("\r"):
            line = line[:-1]
        if _CONTROL.search(line):
            raise _bad(f"line {n} holds a control character")
        if not _LINE.match(line):
            raise _bad(f"line {n} is not <type>=<value>")
        out.append(line)
    return out


_Section = tuple[str, list[str]]


def _split(lines: list[str]) -> tuple[list[str], list[_Section]]:
    if not lines or lines[0] != "v=0":
        raise _bad("an SDP starts with v=0")
    if len(lines) < 3 or lines[1][0] != "o" or lines[2][0] != "s":
        raise _bad("an SDP has o= and s= right after v=")
    if len(lines[1][2:].split(" ")) != 6:
        raise _bad("the o= line needs six fields")
    session: list[str] = []
    sections: list[_Section] = []
    for n, line in enumerate(lines, 1):
        kind = line[0]
        if kind == "m":
            sections.append((line[2:], []))
        elif sections:
            if kind not in _MEDIA_TYPES:
                raise _bad(f"line {n}: {kind}= is not allowed in a media section")
            sections[-1][1].append(line)
        else:
            if kind not in _SESSION_TYPES:
                raise _bad(f"line {n}: {kind}= is not an SDP line type")
            session.append(line)
    types = [line[0] for line in session]
    if types.count("v") != 1 or types.count("o") != 1 or types.count("s") != 1:
        raise _bad("v=, o= and s= appear once each")
    times = [line[2:] for line in session if line[0] == "t"]
    if not times:
        raise _bad("an SDP has a t= line")
    if any(not re.fullmatch(r"[0-9]+ [0-9]+", t) for t in times):
        raise _bad("a t= line is two numbers")
    return session, sections


_Attrs = list[tuple[str, str | None]]


def _attributes(lines: list[str]) -> _Attrs:
    out: _Attrs = []
    for line in lines:
        if line[0] != "a":
            continue
        name, sep, value = line[2:].partition(":")
        if not _TOKEN.fullmatch(name):
            raise _bad(f"a={name[:40]!r} is not an attribute name")
        out.append((name, value if sep else None))
    return out


def _first(attrs: _Attrs, name: str) -> str | None:
    for n, v in attrs:
        if n == name:
            return v
    return None


def _direction(attrs: _Attrs, default: Direction) -> Direction:
    found = [n for n, _ in attrs if n in _DIRECTIONS]
    if len(found) > 1:
        raise _bad("more than one direction attribute in one place")
    return _DIRECTIONS[found[0]] if found else default


def _trickle(attrs: _Attrs) -> bool:
    # RFC 8839 separates the options by spaces; libdatachannel (OBS) writes commas.
    return any(
        n == "ice-options" and v and "trickle" in v.replace(",", " ").split() for n, v in attrs
    )


def _media(index: int, mline: str, attrs: _Attrs, default: Direction) -> Media:
    fields = mline.split(" ")
    if len(fields) < 4 or not all(fields):
        raise _bad(f"m= line {index}: <media> <port> <proto> <fmt> ...")
    kind, port_field, proto, *fmts = fields
    port_text = port_field.split("/", 1)[0]  # a port count after / (never in WebRTC)
    if not port_text.isdigit() or int(port_text) > 65535 or not _TOKEN.fullmatch(kind):
        raise _bad(f"m= line {index}: bad media or port")
    port = int(port_text)
    rtp = bool(_RTP_PROTO.match(proto))
    codecs: tuple[Codec, ...] = ()
    if rtp:
        codecs = _codecs(index, fmts, attrs)
    mids = [v for n, v in attrs if n == "mid"]
    if len(mids) > 1 or (mids and not mids[0]):
        raise _bad(f"m= section {index}: one non-empty mid at most")
    return Media(
        index=index,
        kind=kind,
        port=port,
        proto=proto,
        mid=mids[0] if mids else None,
        direction=_direction(attrs, default),
        bundle_only=any(n == "bundle-only" for n, _ in attrs),
        codecs=codecs,
    )


def _codecs(index: int, fmts: list[str], attrs: _Attrs) -> tuple[Codec, ...]:
    if not all(f.isdigit() and int(f) <= 127 for f in fmts) or len(set(fmts)) != len(fmts):
        raise _bad(f"m= section {index}: RTP payload types are distinct numbers to 127")
    rtpmap: dict[int, tuple[str, int, int | None]] = {}
    fmtp: dict[int, dict[str, str]] = {}
    for name, value in attrs:
        if name not in ("rtpmap", "fmtp"):
            continue
        m = re.fullmatch(r"([0-9]{1,3}) (.+)", value or "")
        if m is None:
            raise _bad(f"m= section {index}: a={name} without a payload type")
        pt = int(m.group(1))
        if name == "rtpmap":
            r = re.fullmatch(r"([^/ ]+)/([0-9]{1,9})(?:/([0-9]{1,3}))?", m.group(2))
            if r is None or pt in rtpmap:
                raise _bad(f"m= section {index}: bad or repeated rtpmap for {pt}")
            channels = int(r.group(3)) if r.group(3) else None
            rtpmap[pt] = (r.group(1), int(r.group(2)), channels)
        else:
            fmtp.setdefault(pt, {}).update(_fmtp_params(m.group(2)))
    out = []
    for f in fmts:
        pt = int(f)
        entry = rtpmap.get(pt) or _STATIC.get(pt)
        if entry is None:
            continue  # a dynamic type without rtpmap: nothing we could use
        name, rate, channels = entry
        out.append(Codec(pt, name, rate, channels, fmtp.get(pt, {})))
    return tuple(out)


def _fmtp_params(text: str) -> dict[str, str]:
    # `key=value;key=value`; some formats (telephone-event) carry a bare value, kept under "".
    out: dict[str, str] = {}
    for part in text.split(";"):
        part = part.strip()
        if not part:
            continue
        key, sep, value = part.partition("=")
        if sep:
            out[key.strip().lower()] = value.strip()
        else:
            out[""] = part
    return out


def _check_bundle(attrs: _Attrs, media: tuple[Media, ...]) -> tuple[str, ...]:
    """The BUNDLE group (RFC 9143), as WHIP and WHEP use it: one group for everything."""
    mids = [m.mid for m in media if m.mid is not None]
    if len(mids) != len(set(mids)):
        raise _bad("two m= sections share a mid")
    groups = [v.split() for n, v in attrs if n == "group" and v and v.split()[0] == "BUNDLE"]
    if len(groups) > 1:
        raise _bad("more than one BUNDLE group")
    group = tuple(groups[0][1:]) if groups else ()
    if groups and not group:
        raise _bad("an empty BUNDLE group")
    by_mid = {m.mid: m for m in media if m.mid is not None}
    if len(set(group)) != len(group) or any(mid not in by_mid for mid in group):
        raise _bad("the BUNDLE group names a mid twice or one that does not exist")
    if group and by_mid[group[0]].port == 0:
        # The first mid is the offerer's suggestion for the shared transport: it needs a port.
        raise _bad("the first m= section of the BUNDLE group has no port")
    for m in media:
        if m.bundle_only and m.mid not in group:
            raise _bad("a bundle-only m= section outside the BUNDLE group")
    active = [m for m in media if m.active]
    if len(active) > 1 and any(m.mid not in group for m in active):
        # One transport for everything, or several ICE sessions we do not do.
        raise _bad("m= sections outside the BUNDLE group")
    return group


# --- What we can use ----------------------------------------------------------------------

_Choice = tuple[Media, Codec, Media | None, Codec | None]


def _publish_rank(c: Codec) -> int | None:
    # We decode both; H.264 first since a Constrained Baseline stream can go to the viewers
    # untouched. None: not decodable here.
    profile = c.h264_profile
    if profile is not None:
        if c.packetization_mode == 1:
            return 0 if profile.constrained_baseline else 1 if profile.baseline else 2
        return 3 if c.packetization_mode == 0 else None
    if c.is_("VP8", 90000):
        return 4
    return None


def _play_rank(c: Codec) -> int | None:
    # What we send is Constrained Baseline, non-interleaved (FU-A, STAP-A): the viewer must
    # take that profile (or plain Baseline, its superset) in packetization-mode 1. The level
    # is not checked: browsers answer level-asymmetry-allowed and decode above it.
    profile = c.h264_profile
    if profile is None or c.packetization_mode != 1:
        return None
    if profile.constrained_baseline:
        return 0
    return 1 if profile.baseline else None


def _best(media: Media, rank: Callable[[Codec], int | None]) -> Codec | None:
    ranked = [(r, i, c) for i, c in enumerate(media.codecs) if (r := rank(c)) is not None]
    return min(ranked, key=lambda t: (t[0], t[1]))[2] if ranked else None


def _opus(media: Media) -> Codec | None:
    return next((c for c in media.codecs if c.is_("opus", 48000, 2)), None)


def _for_publish(media: tuple[Media, ...]) -> _Choice:
    videos = [m for m in media if m.kind == "video" and m.active]
    sending = [m for m in videos if m.sends]
    if not sending:
        raise SdpError(422, "no_video", "the offer sends no video")
    picked = [(m, c) for m in sending if (c := _best(m, _publish_rank)) is not None]
    if not picked:
        raise SdpError(406, "no_usable_codec", "the video is neither H.264 nor VP8")
    audio: Media | None = None
    audio_codec: Codec | None = None
    for m in media:
        if m.kind == "audio" and m.active:
            opus = _opus(m)
            if opus is None:
                raise SdpError(406, "no_usable_codec", "the audio is not Opus")
            if audio is None and m.sends:
                audio, audio_codec = m, opus
    return picked[0][0], picked[0][1], audio, audio_codec


def _for_play(media: tuple[Media, ...]) -> _Choice:
    videos = [m for m in media if m.kind == "video" and m.active]
    receiving = [m for m in videos if m.receives]
    if not receiving:
        raise SdpError(422, "no_video", "the offer receives no video")
    picked = [(m, c) for m in receiving if (c := _best(m, _play_rank)) is not None]
    if not picked:
        raise SdpError(
            406,
            "no_usable_codec",
            "the viewer takes no H.264 Constrained Baseline in packetization-mode 1",
        )
    # Audio is optional for a viewer: without Opus it gets the picture alone.
    for m in media:
        if m.kind == "audio" and m.active and m.receives:
            opus = _opus(m)
            if opus is not None:
                return picked[0][0], picked[0][1], m, opus
    return picked[0][0], picked[0][1], None, None

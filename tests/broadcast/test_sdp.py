"""broadcast.sdp: real offers (aiortc's, OBS-like, Chrome-like) and the ones we refuse."""

from __future__ import annotations

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection

from broadcast.sdp import MAX_OFFER_BYTES, H264Profile, Offer, SdpError, inspect_offer


async def aiortc_offer(direction: str, *, audio: bool) -> str:
    # No ICE servers: the offer then holds host candidates only, gathered without any
    # network traffic (aiortc's default would ask a public STUN server).
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        pc.addTransceiver("video", direction=direction)
        if audio:
            pc.addTransceiver("audio", direction=direction)
        await pc.setLocalDescription(await pc.createOffer())
        return pc.localDescription.sdp
    finally:
        await pc.close()


# A DTLS fingerprint line is longer than our lines of code.
FINGERPRINT = ":".join(f"{b:02X}" for b in bytes.fromhex("6b8bf0655f78e2513bac6ff33f461b35" * 2))


def crlf(text: str) -> str:
    text = text.replace("FINGERPRINT", FINGERPRINT)
    return "".join(line + "\r\n" for line in text.strip().splitlines())


# What OBS 30's WHIP output (libdatachannel) offers: audio first, one codec each, trickle.
OBS = crlf("""
v=0
o=rtc 2750425186 0 IN IP4 127.0.0.1
s=-
t=0 0
a=group:BUNDLE 0 1
a=group:LS 0 1
a=msid-semantic:WMS *
a=setup:actpass
a=ice-ufrag:Kp9d
a=ice-pwd:1wdYbLd9Hpk3ZRtcxI2T4a
a=ice-options:ice2,trickle
a=fingerprint:sha-256 FINGERPRINT
m=audio 9 UDP/TLS/RTP/SAVPF 111
c=IN IP4 0.0.0.0
a=mid:0
a=sendonly
a=ssrc:3370913473 cname:obs-whip
a=ssrc:3370913473 msid:obs-whip obs-whip-audio
a=msid:obs-whip obs-whip-audio
a=rtcp-mux
a=rtpmap:111 opus/48000/2
a=fmtp:111 minptime=10;maxaveragebitrate=96000;stereo=1;sprop-stereo=1;useinbandfec=1
m=video 9 UDP/TLS/RTP/SAVPF 96
c=IN IP4 0.0.0.0
a=mid:1
a=sendonly
a=ssrc:3370913474 cname:obs-whip
a=ssrc:3370913474 msid:obs-whip obs-whip-video
a=msid:obs-whip obs-whip-video
a=rtcp-mux
a=rtpmap:96 H264/90000
a=rtcp-fb:96 nack
a=rtcp-fb:96 nack pli
a=rtcp-fb:96 goog-remb
a=fmtp:96 profile-level-id=42e01f;packetization-mode=1;level-asymmetry-allowed=1
""")

CHROME_HEAD = """
v=0
o=- 4611731400430051336 2 IN IP4 127.0.0.1
s=-
t=0 0
a=group:BUNDLE 0 1
a=extmap-allow-mixed
a=msid-semantic: WMS
m=video 9 UDP/TLS/RTP/SAVPF {pts}
c=IN IP4 0.0.0.0
a=rtcp:9 IN IP4 0.0.0.0
a=ice-ufrag:4ZcD
a=ice-pwd:2/1muCWoOi3uLifh0NuRHlBZ
a=ice-options:trickle
a=fingerprint:sha-256 FINGERPRINT
a=setup:actpass
a=mid:0
a=extmap:1 urn:ietf:params:rtp-hdrext:toffset
a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid
a={direction}
a=msid:- 5a5b0ab0-ffa2-4c7e-9b8e-bf3bc3f2cbd4
a=rtcp-mux
a=rtcp-rsize
"""

CHROME_AUDIO = """
m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126
c=IN IP4 0.0.0.0
a=rtcp:9 IN IP4 0.0.0.0
a=ice-ufrag:4ZcD
a=ice-pwd:2/1muCWoOi3uLifh0NuRHlBZ
a=ice-options:trickle
a=fingerprint:sha-256 FINGERPRINT
a=setup:actpass
a=mid:1
a=extmap:14 urn:ietf:params:rtp-hdrext:ssrc-audio-level
a={direction}
a=rtcp-mux
a=rtpmap:111 opus/48000/2
a=rtcp-fb:111 transport-cc
a=fmtp:111 minptime=10;useinbandfec=1
a=rtpmap:63 red/48000/2
a=fmtp:63 111/111
a=rtpmap:9 G722/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:13 CN/8000
a=rtpmap:110 telephone-event/48000
a=rtpmap:126 telephone-event/8000
"""


def chrome(
    *,
    h264: tuple[str, ...] = ("42001f", "42e01f", "4d001f", "640c1f"),
    vp8: bool = True,
    vp9: bool = True,
    mode: int = 1,
    direction: str = "sendonly",
    audio: bool = True,
) -> str:
    """A Chrome-like offer: VP8, VP9 and one H.264 payload type per profile, with rtx."""
    pts: list[int] = []
    lines: list[str] = []
    pt = 96

    def add(rtpmap: str, fmtp: str | None) -> None:
        nonlocal pt
        pts.extend((pt, pt + 1))
        lines.append(f"a=rtpmap:{pt} {rtpmap}")
        lines.append(f"a=rtcp-fb:{pt} nack")
        lines.append(f"a=rtcp-fb:{pt} nack pli")
        if fmtp:
            lines.append(f"a=fmtp:{pt} {fmtp}")
        lines.append(f"a=rtpmap:{pt + 1} rtx/90000")
        lines.append(f"a=fmtp:{pt + 1} apt={pt}")
        pt += 2

    if vp8:
        add("VP8/90000", None)
    if vp9:
        add("VP9/90000", "profile-id=0")
    for profile in h264:
        add(
            "H264/90000",
            f"level-asymmetry-allowed=1;packetization-mode={mode};profile-level-id={profile}",
        )
    if not pts:
        add("AV1/90000", "level-idx=5;profile=0;tier=0")
    head = CHROME_HEAD.format(pts=" ".join(map(str, pts)), direction=direction)
    text = head.strip() + "\n" + "\n".join(lines)
    if audio:
        text += "\n" + CHROME_AUDIO.format(direction=direction).strip()
    else:
        text = text.replace("a=group:BUNDLE 0 1", "a=group:BUNDLE 0")
    return crlf(text)


def refused(text: str | bytes, role: str = "publish") -> SdpError:
    with pytest.raises(SdpError) as caught:
        inspect_offer(text, role=role)  # type: ignore[arg-type]
    return caught.value


def h264_profiles(offer: Offer) -> list[str]:
    return [c.params["profile-level-id"] for c in offer.codecs["video"] if c.name == "H264"]


# --- aiortc's own offers ------------------------------------------------------------------


async def test_aiortc_publish_offer() -> None:
    sdp = await aiortc_offer("sendonly", audio=True)
    offer = inspect_offer(sdp, role="publish")
    assert offer.video.kind == "video" and offer.video.direction == "sendonly"
    # aiortc offers VP8, then H.264 42001f and 42e01f: Constrained Baseline is preferred.
    assert offer.video_codec.name == "H264"
    assert offer.video_codec.params["profile-level-id"] == "42e01f"
    assert offer.video_codec.packetization_mode == 1
    assert [c.name for c in offer.codecs["video"]].count("H264") == 2
    assert "VP8" in [c.name for c in offer.codecs["video"]]
    assert offer.audio is not None and offer.audio_codec is not None
    assert offer.audio_codec.is_("opus", 48000, 2)
    assert offer.directions == {"video": "sendonly", "audio": "sendonly"}
    assert offer.bundle == ("0", "1")
    assert offer.ice_ufrag is not None and not offer.ice_lite


async def test_aiortc_play_offer() -> None:
    sdp = await aiortc_offer("recvonly", audio=True)
    offer = inspect_offer(sdp, role="play")
    assert offer.video_codec.params["profile-level-id"] == "42e01f"
    assert offer.audio_codec is not None and offer.audio_codec.name == "opus"
    assert offer.directions == {"video": "recvonly", "audio": "recvonly"}


async def test_aiortc_offers_in_the_wrong_role() -> None:
    play = await aiortc_offer("recvonly", audio=False)
    publish = await aiortc_offer("sendonly", audio=False)
    assert refused(play, "publish").code == "no_video"
    assert refused(publish, "play").code == "no_video"
    assert inspect_offer(await aiortc_offer("sendrecv", audio=False), role="publish")
    assert inspect_offer(await aiortc_offer("sendrecv", audio=False), role="play")


async def test_lf_only_and_bytes_are_the_same_offer() -> None:
    sdp = await aiortc_offer("sendonly", audio=True)
    base = inspect_offer(sdp, role="publish")
    assert inspect_offer(sdp.replace("\r\n", "\n"), role="publish") == base
    assert inspect_offer(sdp.encode(), role="publish") == base
    assert inspect_offer(sdp.rstrip("\r\n"), role="publish") == base  # no final line end


# --- OBS and Chrome -----------------------------------------------------------------------


def test_obs_offer() -> None:
    offer = inspect_offer(OBS, role="publish")
    assert offer.video_codec.payload_type == 96 and offer.video_codec.name == "H264"
    assert offer.video_codec.params == {
        "profile-level-id": "42e01f",
        "packetization-mode": "1",
        "level-asymmetry-allowed": "1",
    }
    assert offer.audio_codec is not None and offer.audio_codec.payload_type == 111
    assert offer.audio_codec.params["useinbandfec"] == "1"
    assert offer.trickle and offer.ice_ufrag == "Kp9d"
    assert [m.kind for m in offer.media] == ["audio", "video"]
    assert offer.video.mid == "1"


def test_chrome_publish_offer_prefers_constrained_baseline() -> None:
    offer = inspect_offer(chrome(), role="publish")
    assert h264_profiles(offer) == ["42001f", "42e01f", "4d001f", "640c1f"]
    assert offer.video_codec.params["profile-level-id"] == "42e01f"
    assert offer.audio_codec is not None and offer.audio_codec.payload_type == 111
    assert offer.trickle and offer.ice_ufrag == "4ZcD"
    names = [c.name for c in offer.codecs["audio"]]
    assert names == ["opus", "red", "G722", "PCMU", "PCMA", "CN", *["telephone-event"] * 2]


@pytest.mark.parametrize("profile", ["42e01f", "42001f", "640c1f", "4d001f"])
def test_chrome_publish_offer_with_one_h264_profile(profile: str) -> None:
    # We decode any H.264 a publisher sends.
    offer = inspect_offer(chrome(h264=(profile,), vp8=False, vp9=False), role="publish")
    assert offer.video_codec.params["profile-level-id"] == profile


@pytest.mark.parametrize(
    ("profile", "usable"),
    [("42e01f", True), ("42001f", True), ("42c01f", True), ("640c1f", False), ("4d001f", False)],
)
def test_chrome_play_offer_with_one_h264_profile(profile: str, usable: bool) -> None:
    # A viewer must take our Constrained Baseline stream as is (plain Baseline is a superset).
    text = chrome(h264=(profile,), direction="recvonly")
    if usable:
        offer = inspect_offer(text, role="play")
        assert offer.video_codec.params["profile-level-id"] == profile
    else:
        error = refused(text, "play")
        assert (error.status, error.code) == (406, "no_usable_codec")


def test_chrome_play_offer_prefers_constrained_baseline() -> None:
    offer = inspect_offer(chrome(direction="recvonly"), role="play")
    assert offer.video_codec.params["profile-level-id"] == "42e01f"
    assert offer.audio is not None and offer.audio.direction == "recvonly"


def test_packetization_mode_0() -> None:
    text = chrome(h264=("42e01f",), vp8=False, vp9=False, mode=0)
    assert inspect_offer(text, role="publish").video_codec.packetization_mode == 0
    assert refused(chrome(h264=("42e01f",), mode=0, direction="recvonly"), "play").status == 406


def test_vp8_only() -> None:
    offer = inspect_offer(chrome(h264=(), vp9=False), role="publish")
    assert offer.video_codec.name == "VP8"
    assert refused(chrome(h264=(), vp9=False, direction="recvonly"), "play").status == 406


def test_vp9_only() -> None:
    for role, direction in (("publish", "sendonly"), ("play", "recvonly")):
        error = refused(chrome(h264=(), vp8=False, direction=direction), role)
        assert (error.status, error.code) == (406, "no_usable_codec")


def test_av1_only() -> None:
    assert refused(chrome(h264=(), vp8=False, vp9=False)).code == "no_usable_codec"


def test_audio_only() -> None:
    head = CHROME_HEAD.split("m=video")[0].strip()
    text = crlf(head + "\n" + CHROME_AUDIO.format(direction="sendonly").strip())
    text = text.replace("BUNDLE 0 1", "BUNDLE 1")
    for role in ("publish", "play"):
        error = refused(text, role)
        assert (error.status, error.code) == (422, "no_video")


def test_audio_without_opus() -> None:
    text = chrome().replace("a=rtpmap:111 opus/48000/2", "a=rtpmap:111 ISAC/16000")
    error = refused(text, "publish")
    assert (error.status, error.code) == (406, "no_usable_codec")
    # A viewer gets the picture alone.
    offer = inspect_offer(text.replace("a=sendonly", "a=recvonly"), role="play")
    assert offer.audio is None and offer.audio_codec is None


def test_opus_must_be_stereo_48k() -> None:
    text = chrome().replace("a=rtpmap:111 opus/48000/2", "a=rtpmap:111 opus/48000")
    assert refused(text).code == "no_usable_codec"


def test_codec_names_are_case_insensitive() -> None:
    text = OBS.replace("H264/90000", "h264/90000").replace("opus/48000/2", "OPUS/48000/2")
    offer = inspect_offer(text, role="publish")
    assert offer.video_codec.payload_type == 96 and offer.audio_codec is not None


# --- m= sections, directions, bundle ------------------------------------------------------


def test_rejected_video_section() -> None:
    text = OBS.replace("m=video 9 ", "m=video 0 ").replace("a=group:BUNDLE 0 1", "a=group:BUNDLE 0")
    offer_error = refused(text)
    assert (offer_error.status, offer_error.code) == (422, "no_video")
    assert refused(text.replace("a=sendonly", "a=recvonly"), "play").code == "no_video"


def test_bundle_only_video_section_counts() -> None:
    text = OBS.replace("m=video 9 ", "m=video 0 ").replace("a=mid:1", "a=mid:1\r\na=bundle-only")
    offer = inspect_offer(text, role="publish")
    assert offer.video.bundle_only and offer.video.port == 0 and offer.video.active


def test_first_active_video_section_is_used() -> None:
    video = OBS[OBS.index("m=video") :]
    second = video.replace("m=video 9", "m=video 9").replace("a=mid:1", "a=mid:2")
    rejected = OBS.replace("m=video 9 ", "m=video 0 ")
    text = rejected.replace("a=group:BUNDLE 0 1", "a=group:BUNDLE 0 1 2") + second
    offer = inspect_offer(text, role="publish")
    assert offer.video.mid == "2"
    assert [m.active for m in offer.media] == [True, False, True]


def test_session_level_direction_applies() -> None:
    text = OBS.replace("a=sendonly\r\n", "").replace("t=0 0\r\n", "t=0 0\r\na=recvonly\r\n")
    assert refused(text).code == "no_video"
    assert inspect_offer(text, role="play").directions["video"] == "recvonly"
    inactive = OBS.replace("a=mid:1\r\na=sendonly", "a=mid:1\r\na=inactive")
    assert refused(inactive).code == "no_video"


def test_no_direction_is_sendrecv() -> None:
    offer = inspect_offer(OBS.replace("a=sendonly\r\n", ""), role="publish")
    assert offer.directions == {"audio": "sendrecv", "video": "sendrecv"}


def test_two_directions_in_one_section() -> None:
    assert refused(OBS.replace("a=mid:1\r\n", "a=mid:1\r\na=recvonly\r\n")).code == "bad_sdp"


def test_ice_lite() -> None:
    offer = inspect_offer(OBS.replace("t=0 0\r\n", "t=0 0\r\na=ice-lite\r\n"), role="publish")
    assert offer.ice_lite


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("a=group:BUNDLE 0 1", "a=group:BUNDLE 0 1 7"),  # a mid that does not exist
        ("a=group:BUNDLE 0 1", "a=group:BUNDLE 0 1 1"),  # a mid twice
        ("a=group:BUNDLE 0 1", "a=group:BUNDLE 0 1\r\na=group:BUNDLE 2"),  # two groups
        ("a=group:BUNDLE 0 1", "a=group:BUNDLE"),  # an empty group
        ("a=group:BUNDLE 0 1", "a=group:BUNDLE 0"),  # an active section outside
        ("a=group:BUNDLE 0 1", "a=group:BUNDLE 1 0\r\na=x-placeholder"),  # fine alone
        ("a=mid:1", "a=mid:0"),  # two sections, one mid
        ("a=mid:1", "a=mid:1\r\na=mid:2"),  # two mids in one section
        ("a=mid:1", "a=mid:"),  # an empty mid
    ],
)
def test_bundle_nonsense(old: str, new: str) -> None:
    text = OBS.replace(old, new, 1)
    if "x-placeholder" in new:
        # The control case: the group's order is free.
        assert inspect_offer(text, role="publish").bundle == ("1", "0")
        return
    error = refused(text)
    assert (error.status, error.code) == (400, "bad_sdp")


def test_bundle_only_outside_the_group() -> None:
    text = OBS.replace("a=group:BUNDLE 0 1", "a=group:BUNDLE 1").replace(
        "a=mid:0", "a=mid:0\r\na=bundle-only"
    )
    assert refused(text).code == "bad_sdp"


def test_bundle_tagged_section_needs_a_port() -> None:
    text = OBS.replace("m=audio 9 ", "m=audio 0 ").replace("a=mid:0", "a=mid:0\r\na=bundle-only")
    assert refused(text).code == "bad_sdp"


def test_one_section_needs_no_group() -> None:
    text = chrome(audio=False).replace("a=group:BUNDLE 0\r\n", "")
    assert inspect_offer(text, role="publish").bundle == ()


def test_datachannel_section_is_ignored() -> None:
    text = OBS.replace("a=group:BUNDLE 0 1", "a=group:BUNDLE 0 1 2") + crlf("""
m=application 9 UDP/DTLS/SCTP webrtc-datachannel
c=IN IP4 0.0.0.0
a=mid:2
a=sctp-port:5000
""")
    offer = inspect_offer(text, role="publish")
    assert offer.media[2].kind == "application" and offer.media[2].codecs == ()


# --- not SDP ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hello",
        "<html><body>offer</body></html>",
        '{"type": "offer", "sdp": "v=0"}',
        "v=0\r\n",
        "v=1\r\n" + OBS[5:],  # not version 0
        OBS.replace("o=rtc 2750425186 0 IN IP4 127.0.0.1\r\n", ""),  # no o=
        OBS.replace("s=-\r\n", ""),  # no s=
        OBS.replace("t=0 0\r\n", ""),  # no t=
        OBS.replace("t=0 0", "t=now"),
        OBS.replace("o=rtc 2750425186 0 IN IP4 127.0.0.1", "o=rtc 1 2"),  # o= fields
        OBS.replace("s=-\r\n", "s=-\r\ns=again\r\n"),
        " " + OBS,  # leading space
        OBS.replace("a=rtcp-mux", "a = rtcp-mux", 1),  # not <type>=<value>
        OBS.replace("a=rtcp-mux", "A=rtcp-mux", 1),  # type letters are lower case
        OBS.replace("a=rtcp-mux", "x=rtcp-mux", 1),  # unknown type
        OBS.replace("a=rtcp-mux", "t=0 0", 1),  # a session line in a media section
        OBS.replace("a=rtcp-mux\r\n", "a=rtcp-mux\r\n\r\n", 1),  # an empty line
        OBS.replace("a=rtcp-mux", "a=rtcp\x00mux", 1),  # NUL
        OBS.replace("a=rtcp-mux", "a=rtcp\x1bmux", 1),  # ESC
        OBS.replace("a=rtcp-mux\r\n", "a=rtcp-mux\r", 1),  # lone CR
        OBS.replace("s=-", "s=\ud800"),  # a lone surrogate is no UTF-8
        OBS.replace("m=video 9 UDP/TLS/RTP/SAVPF 96", "m=video 9 UDP/TLS/RTP/SAVPF"),
        OBS.replace("m=video 9 ", "m=video 99999 "),
        OBS.replace("m=video 9 ", "m=video nine "),
        OBS.replace("UDP/TLS/RTP/SAVPF 96", "UDP/TLS/RTP/SAVPF 96 96"),
        OBS.replace("UDP/TLS/RTP/SAVPF 96", "UDP/TLS/RTP/SAVPF 200"),
        OBS.replace("a=rtpmap:96 H264/90000", "a=rtpmap:96"),
        OBS.replace("a=rtpmap:96 H264/90000", "a=rtpmap:96 H264"),
        OBS.replace("a=rtpmap:96 H264/90000", "a=rtpmap:96 H264/90000\r\na=rtpmap:96 VP8/90000"),
        OBS.replace("a=fmtp:96 ", "a=fmtp:x "),
        OBS.replace("a=ice-ufrag:Kp9d", "a=ice-ufrag:K;"),
        OBS[: OBS.index("m=audio")],  # no m= section
    ],
)
def test_not_sdp(text: str) -> None:
    error = refused(text)
    assert (error.status, error.code) == (400, "bad_sdp")
    assert error.message and str(error) == error.message


def test_not_utf8() -> None:
    error = refused(OBS.encode().replace(b"s=-", b"s=\xff\xfe"))
    assert (error.status, error.code) == (400, "bad_sdp")


def test_size_limit() -> None:
    megabyte = OBS + "a=x-pad:" + "A" * (1 << 20) + "\r\n"
    assert refused(megabyte).code == "bad_sdp"
    assert refused(megabyte.encode()).code == "bad_sdp"
    # Just over the limit by bytes though not by characters (the padding is two-byte UTF-8).
    padded = OBS + "a=x-pad:" + "é" * ((MAX_OFFER_BYTES - len(OBS)) // 2) + "\r\n"
    assert len(padded) <= MAX_OFFER_BYTES < len(padded.encode())
    assert refused(padded).code == "bad_sdp"
    # At the limit: fine.
    fits = OBS + "a=x-pad:" + "A" * (MAX_OFFER_BYTES - len(OBS) - 10) + "\r\n"
    assert len(fits.encode()) <= MAX_OFFER_BYTES
    assert inspect_offer(fits, role="publish").video_codec.name == "H264"


def test_tab_is_text() -> None:
    assert inspect_offer(OBS.replace("s=-", "s=a\tb"), role="publish")


# --- H.264 profiles -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "cb", "baseline"),
    [
        ("42e01f", True, True),
        ("42c01f", True, True),
        ("42401f", True, True),
        ("42001f", False, True),
        ("42800a", False, True),
        ("4d801f", True, False),  # Constrained Baseline written as Main + constraint_set0
        ("58c01f", True, False),
        ("4d001f", False, False),
        ("640c1f", False, False),
        ("42e11f", False, False),  # reserved bits set
    ],
)
def test_h264_profiles(value: str, cb: bool, baseline: bool) -> None:
    raw = bytes.fromhex(value)
    profile = H264Profile(raw[0], raw[1], raw[2])
    assert (profile.constrained_baseline, profile.baseline) == (cb, baseline)


def test_h264_without_profile_level_id_is_baseline() -> None:
    text = OBS.replace("profile-level-id=42e01f;", "")
    offer = inspect_offer(text, role="publish")
    assert offer.video_codec.h264_profile == H264Profile(0x42, 0x00, 0x0A)
    assert inspect_offer(text.replace("a=sendonly", "a=recvonly"), role="play")


def test_unreadable_profile_level_id_is_not_usable() -> None:
    text = OBS.replace("profile-level-id=42e01f", "profile-level-id=zz")
    assert refused(text).code == "no_usable_codec"

"""The broadcast as the sitting's log records it: on air or not, from which source.

`broadcast.report` is the server's own command, sent when a publisher's connection
comes up or ends (session_server/broadcasting/): its event is what every screen shows
as live / not live, and what the recording's chapters line up with."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from session_server.commands.base import CommandContext, SessionArgs, command
from session_server.db.models import iso


class ReportArgs(SessionArgs):
    live: bool
    # How the picture comes: OBS Studio or another WHIP client, the chair console.
    source: Literal["whip"] | None = None


@command("broadcast.report", roles={"system"}, args=ReportArgs)
def report(ctx: CommandContext, args: ReportArgs) -> dict[str, Any]:
    """Log that the broadcast went on or off air."""
    ctx.emit(
        "broadcast.changed",
        {
            "broadcast": {
                "live": args.live,
                "source": args.source if args.live else None,
                "since": iso(ctx.now),
            },
            "live": args.live,
        },
    )
    return {"live": args.live}


class AudienceArgs(SessionArgs):
    # Counted by this server: WebRTC (WHEP) viewers and HLS players (broadcast/audience.py).
    webrtc: int = Field(ge=0, le=10_000_000)
    hls: int = Field(ge=0, le=10_000_000)


@command("broadcast.audience", roles={"system"}, args=AudienceArgs)
def audience(ctx: CommandContext, args: AudienceArgs) -> dict[str, Any]:
    """Log how many watch: the server counts, and says so when the figure changes."""
    watching = args.webrtc + args.hls
    ctx.emit(
        "broadcast.audience",
        {
            "audience": {"watching": watching, "webrtc": args.webrtc, "hls": args.hls},
            "watching": watching,
        },
    )
    return {"watching": watching}

"""Broadcast: WebRTC ingest (WHIP), WebRTC playback (WHEP), HLS packaging, recording.

Part of the layout from the start (docs/architecture.md, "What comes later"); its code
comes with the broadcast issue; its `broadcast.changed` events go into the session log
like any other.
"""

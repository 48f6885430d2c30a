"""Broadcast: WebRTC ingest (WHIP), WebRTC playback (WHEP), HLS packaging, recording.

Part of the layout from the start (DESIGN.md "Broadcast"); its code comes with the
broadcast issue. The hub already carries `broadcast.changed` events' place in the log.
"""

"""The broadcast on the server: WHIP ingest over aiortc (`ingest.py`), the host
addresses offered as ICE candidates (`ice.py`), the HTTP endpoints (`routes.py`). The
pure parts (SDP checks, resources, playlists, chapters) are in the package broadcast/."""

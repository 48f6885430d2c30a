"""The broadcast's metrics, kept by the media process (session_server/broadcasting/media.py)
in a registry of their own: the server's /metrics adds them to its own, so each family
appears once, counted where the work is done."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

MEDIA = CollectorRegistry()

"""Prometheus metrics, one registry for the process."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

COMMANDS = Counter("kengash_commands_total", "Commands answered", ["command", "outcome"])
COMMAND_SECONDS = Histogram(
    "kengash_command_seconds",
    "From receiving a command to its answer",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
SOCKETS = Gauge("kengash_websockets", "Open WebSocket connections")
EVENTS_DELIVERED = Counter("kengash_events_delivered_total", "Event frames queued to sockets")
SLOW_CLOSED = Counter("kengash_slow_sockets_closed_total", "Sockets closed for falling behind")
FANOUT_SECONDS = Histogram(
    "kengash_fanout_seconds",
    "Time to queue one event to every subscriber of a session",
    buckets=(0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5),
)
# reason: origin, address_limit (a /ws handshake refused), header_timeout, shed (a
# connection closed before its request headers came; see session_server/guard.py).
CONNECTIONS_REFUSED = Counter(
    "kengash_connections_refused_total", "Connections refused or closed before use", ["reason"]
)

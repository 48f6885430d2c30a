"""Session commands. Importing this package registers every handler."""

from session_server.commands import (
    agenda,
    attendance,
    broadcast,
    decisions,
    session,
    speakers,
    votes,
)
from session_server.commands.base import REGISTRY, CommandError, CommandSpec

__all__ = [
    "REGISTRY",
    "CommandError",
    "CommandSpec",
    "agenda",
    "attendance",
    "broadcast",
    "decisions",
    "session",
    "speakers",
    "votes",
]

"""Frames a client may send on /ws (docs/protocol.md "Client frames")."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from session_server.validation import DB_INT_MAX, RowId

CommandId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
# A seq is an INTEGER column too: a `since` beyond it cannot name any log's position.
Seq = Annotated[int, Field(ge=0, le=DB_INT_MAX)]


class _Frame(BaseModel):
    # Strict: a session is 4, not "4", true or 4.0, exactly as documented.
    model_config = ConfigDict(extra="forbid", strict=True)


class Subscribe(_Frame):
    type: Literal["subscribe"]
    session: RowId
    since: Seq | None = None


class Unsubscribe(_Frame):
    type: Literal["unsubscribe"]
    session: RowId


class Command(_Frame):
    type: Literal["cmd"]
    id: CommandId
    cmd: Annotated[str, Field(min_length=1, max_length=64)]
    # Checked by the command's own model (strict as well) in the dispatcher.
    args: dict[str, Any] = Field(default_factory=dict)


class Ping(_Frame):
    type: Literal["ping"]


ClientFrame = Subscribe | Unsubscribe | Command | Ping
CLIENT_FRAME: TypeAdapter[ClientFrame] = TypeAdapter(
    Annotated[ClientFrame, Field(discriminator="type")]
)

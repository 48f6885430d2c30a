"""Frames a client may send on /ws (CONTRACT.md "WebSocket")."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

CommandId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


class _Frame(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Subscribe(_Frame):
    type: Literal["subscribe"]
    session: Annotated[int, Field(gt=0)]
    since: Annotated[int, Field(ge=0)] | None = None


class Unsubscribe(_Frame):
    type: Literal["unsubscribe"]
    session: Annotated[int, Field(gt=0)]


class Command(_Frame):
    type: Literal["cmd"]
    id: CommandId
    cmd: Annotated[str, Field(min_length=1, max_length=64)]
    args: dict[str, Any] = Field(default_factory=dict)


class Ping(_Frame):
    type: Literal["ping"]


ClientFrame = Subscribe | Unsubscribe | Command | Ping
CLIENT_FRAME: TypeAdapter[ClientFrame] = TypeAdapter(
    Annotated[ClientFrame, Field(discriminator="type")]
)

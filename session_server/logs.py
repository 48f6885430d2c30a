"""Structured logs (structlog): console for people, JSON for log collectors."""

from __future__ import annotations

import logging
import re
import sys
from urllib.parse import unquote_plus

import structlog

_TOKEN = re.compile(r"(token=)[^&\s\"']+")
# A path with its query string, as uvicorn logs it: `/ws?token=…`.
_PATH_QUERY = re.compile(r"(?P<path>/[^\s?\"']*)\?(?P<query>[^\s\"']*)")


def _redact_query(query: str) -> str:
    """Each parameter the server would read as `token`, however its name is spelled
    (Starlette decodes `tok%65n` and `%74oken` to `token`), with its value redacted."""
    parts = []
    for part in query.split("&"):
        name, eq, _ = part.partition("=")
        if eq and unquote_plus(name, errors="replace").strip().lower() == "token":
            part = f"{name}=[redacted]"
        parts.append(part)
    return "&".join(parts)


def _redact_path(match: re.Match[str]) -> str:
    path = match["path"]
    # Browsers pass their token on /ws; nothing else in that query is worth a log line.
    if path.rstrip("/").endswith("/ws"):
        return path
    return f"{path}?{_redact_query(match['query'])}"


def redact(text: str) -> str:
    return _TOKEN.sub(r"\1[redacted]", _PATH_QUERY.sub(_redact_path, text))


class RedactTokens(logging.Filter):
    """uvicorn logs each WebSocket's path with its query, and tablets pass ?token=…"""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {
                k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()
            }
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def configure(fmt: str, level: str) -> None:
    for name in ("uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )

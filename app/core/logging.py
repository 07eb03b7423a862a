"""Structured logs: an event name plus fields, one JSON object per line. Never secrets or customer text."""

from __future__ import annotations

import json
import logging
import logging.config
import traceback
from typing import Any

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


def _where(exc_info: Any) -> tuple[str, str | None]:
    """The exception's type and where it was raised; never its message, which may quote customer text or SQL
    parameters."""
    kind = exc_info[0].__name__ if exc_info and exc_info[0] else "Exception"
    frames = traceback.extract_tb(exc_info[2]) if exc_info and exc_info[2] else []
    return kind, (f"{frames[-1].filename}:{frames[-1].lineno}" if frames else None)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        out.update({k: v for k, v in record.__dict__.items() if k not in _RESERVED and not k.startswith("_")})
        if record.exc_info and record.exc_info[0] is not None:
            out["error_type"], out["error_at"] = _where(record.exc_info)
        return json.dumps(out, default=str)


class TextFormatter(logging.Formatter):
    """Human-readable lines with the same rule as JSON: exceptions by type and place, not by message."""

    def formatException(self, ei: Any) -> str:  # noqa: N802  (logging's name)
        kind, at = _where(ei)
        return f"  error_type={kind} error_at={at}"

    def format(self, record: logging.LogRecord) -> str:
        extra = {k: v for k, v in record.__dict__.items() if k not in _RESERVED and not k.startswith("_")}
        line = super().format(record)
        return line + ("  " + " ".join(f"{k}={v}" for k, v in extra.items()) if extra else "")


def logging_config(level: str = "info", fmt: str = "json") -> dict[str, Any]:
    """A dictConfig, also handed to uvicorn so that every worker process logs the same way."""
    formatter: dict[str, Any] = (
        {"()": JsonFormatter}
        if fmt == "json"
        else {"()": TextFormatter, "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s"}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "handlers": {
            "default": {"class": "logging.StreamHandler", "formatter": "default", "stream": "ext://sys.stderr"}
        },
        "root": {"handlers": ["default"], "level": level.upper()},
        # Our AccessLog middleware logs requests without query strings; uvicorn's own would add them.
        "loggers": {"uvicorn.access": {"handlers": [], "propagate": False, "level": "CRITICAL"}},
    }


def configure_logging(level: str = "info", fmt: str = "json") -> None:
    logging.config.dictConfig(logging_config(level, fmt))

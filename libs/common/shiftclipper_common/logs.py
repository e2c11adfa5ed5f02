"""structlog set-up: JSON lines in services, readable console output for the CLI."""

from __future__ import annotations

import logging
import sys

import structlog


def _stderr_logger(*_args: object) -> structlog.PrintLogger:
    """`sys.stderr` as it is when a logger is made, not when logging was configured: a CLI command run under a
    captured or since-closed stderr (pytest's capture, a closed pipe) would otherwise break every later log line."""
    return structlog.PrintLogger(file=sys.stderr)


def configure_logging(service: str, json: bool = True, level: str = "info") -> structlog.stdlib.BoundLogger:
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )
    return structlog.get_logger().bind(service=service)

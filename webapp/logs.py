"""Logging set-up: one place, with the secret-masking filter on every handler."""

from __future__ import annotations

import logging

from webapp.wire.redact import RedactingFilter


def configure_logging(level: str, secrets: tuple[str, ...] = ()) -> None:
    """Log to stderr at ``level``; every handler masks ``secrets`` as a last line of defence."""
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)-7s %(name)s: %(message)s"
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactingFilter(secrets))

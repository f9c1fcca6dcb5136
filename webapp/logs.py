"""Logging set-up: one place, with the secret-masking filters on every handler."""

from __future__ import annotations

import logging
import re

from webapp.wire.redact import MASK, RedactingFilter

# A token in a query string: embed links (30-day bearer credentials), sign-in links.
_QUERY_TOKEN = re.compile(r"([?&](?:token|access_token)=)[^&\s\"']+", re.IGNORECASE)


def mask_query_tokens(text: str) -> str:
    return _QUERY_TOKEN.sub(lambda m: m.group(1) + MASK, text)


class QueryTokenFilter(logging.Filter):
    """Masks ``token=`` values of query strings in a record's final message.

    On uvicorn's own loggers (the access log prints every path with its query)
    and on the root handlers.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_query_tokens(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


QUERY_TOKENS = QueryTokenFilter()


def configure_logging(level: str, secrets: tuple[str, ...] = ()) -> None:
    """Log to stderr at ``level``; every handler masks ``secrets`` as a last line of defence."""
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)-7s %(name)s: %(message)s"
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactingFilter(secrets))
        handler.addFilter(QUERY_TOKENS)


def mask_too(secret: str) -> None:
    """Mask ``secret`` on every handler from now on as well (a key opened at runtime: an
    organisation of the org book)."""
    for handler in logging.getLogger().handlers:
        for found in handler.filters:
            if isinstance(found, RedactingFilter) and secret and secret not in found.secrets:
                found.secrets = (*found.secrets, secret)

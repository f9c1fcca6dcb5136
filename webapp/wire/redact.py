"""Keep secrets out of text that leaves the process: log lines, error messages, frames."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from urllib.parse import quote

from websockets.frames import Frame

MASK = "[redacted]"


def redact(text: str, *secrets: str) -> str:
    """Replace every occurrence of each secret (raw or URL-quoted) with a mask."""
    for secret in secrets:
        if len(secret) < 4:  # masking a 1-3 character "secret" would mangle ordinary text
            continue
        for form in {secret, quote(secret, safe="")}:
            text = text.replace(form, MASK)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that masks the secrets in every record's final message.

    Installed on the root handlers, it is the last line of defence: code must
    not log secrets in the first place.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        cleaned = redact(message, *self.secrets)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, *self.secrets)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def without_frame_data(args: tuple[object, ...]) -> tuple[object, ...]:
    """Log arguments with each WebSocket frame reduced to its kind and size.

    At debug level websockets logs every frame it sends or receives (``< %s``),
    showing up to 75 characters of its data: all of a short frame, the start and
    end of a long one. A transcript frame's text is customer data at every level.
    """
    return tuple(
        f"{arg.opcode.name} [{len(arg.data)} bytes]" if isinstance(arg, Frame) else arg
        for arg in args
    )


class FrameDataFilter(logging.Filter):
    """On a websockets logger: frames are logged by kind and size, never their data."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = without_frame_data(record.args)
        return True

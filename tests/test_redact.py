import logging

import pytest

from webapp.wire.redact import MASK, RedactingFilter, redact


def test_redact_masks_raw_and_url_quoted_forms() -> None:
    key = "sk live/+key=="
    text = f"key {key} in url ?token=sk%20live%2F%2Bkey%3D%3D"
    assert key not in redact(text, key)
    assert "sk%20live" not in redact(text, key)
    assert redact(text, key).count(MASK) == 2


def test_filter_masks_messages_args_and_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    key = "super-secret-key-123"
    logger = logging.getLogger("test.redact")
    caplog.handler.addFilter(RedactingFilter([key]))
    try:
        raise RuntimeError(f"boom with {key}")
    except RuntimeError:
        logger.exception("failed for %s", key)
    assert key not in caplog.text
    assert MASK in caplog.text

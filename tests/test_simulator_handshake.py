"""Reading the upgrade request: routes, where the key came from, and redaction."""

from __future__ import annotations

from websockets.datastructures import Headers

from webapp.simulator.handshake import credentials, parse_route, redact


def test_routes_and_credentials_are_read_from_the_request() -> None:
    assert parse_route("/live-transcript/CA12_ab-C?token=x") is not None
    assert parse_route("/ws/campaigns/007/progress") == parse_route("/ws/campaigns/7/progress")
    assert parse_route("/live-transcript/") is None
    headers = Headers(
        [("Authorization", "Bearer k1"), ("Sec-WebSocket-Protocol", "burki-token-k2")]
    )
    assert credentials("/live-transcript/CA1?token=k0", headers) == ("query", "k0")
    assert credentials("/live-transcript/CA1", headers) == ("header", "k1")
    only_subprotocol = Headers([("Sec-WebSocket-Protocol", "chat, burki-token-k2")])
    assert credentials("/live-transcript/CA1", only_subprotocol) == ("subprotocol", "k2")
    assert credentials("/live-transcript/CA1", Headers()) is None


def test_keys_are_redacted_wherever_they_appear_in_a_log_line() -> None:
    line = (
        "GET /live-transcript/CA1?token=s3cr3t&x=1 Authorization: Bearer s3cr3t burki-token-s3cr3t"
    )
    assert "s3cr3t" not in redact(line)
    assert "token=***&x=1" in redact(line)

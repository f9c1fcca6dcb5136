"""Signed webhooks, over real sockets: a local HTTP receiver on 127.0.0.1 records every POST."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import inspect
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from itertools import pairwise
from typing import Any

import httpx
import pytest

from tests.receiver import HANG, dead_url, receiving
from webapp.alerts.channel import retryable
from webapp.alerts.signed import EVENT_ID_HEADER, SIGNATURE_HEADER, sign, verify
from webapp.alerts.webhooks import (
    Endpoint,
    WebhookDispatcher,
    parse_endpoints,
    safe_url,
)
from webapp.wire.redact import RedactingFilter
from webapp.wire.streamkey import StreamKey

SECRET = "whsec-7c1e5a9b3d2f4e6a"
CA1, CAMPAIGN_4 = StreamKey.call("CA1"), StreamKey.campaign(4)


@asynccontextmanager
async def dispatching(
    endpoints: Sequence[Endpoint], **options: Any
) -> AsyncIterator[WebhookDispatcher]:
    options = {"backoff_base": 0.01, "backoff_cap": 0.05, "timeout": 2.0, **options}
    dispatcher = WebhookDispatcher(endpoints, **options)
    dispatcher.start()
    try:
        yield dispatcher
    finally:
        await asyncio.wait_for(dispatcher.close(), 2)


def endpoint(url: str, *groups: str) -> Endpoint:
    return Endpoint(url, SECRET, frozenset(groups or ("alert", "campaign", "call_status")))


ALERT = {"id": "sentiment-3f9a0c", "kind": "sentiment", "message": "Caller sounds upset (-0.72)"}


# -- the request and its signature ---------------------------------------------------------


async def test_a_delivered_post_carries_the_event_and_a_signature_that_verifies() -> None:
    async with receiving() as receiver, dispatching([endpoint(receiver.url)]) as dispatcher:
        dispatcher.offer(CA1, "0b7d2a55-9", "alert", ALERT)
        (request,) = await receiver.wait_for(1)
        await dispatcher.wait_idle()

    assert request.headers["content-type"] == "application/json"
    assert request.headers[EVENT_ID_HEADER.lower()] == "0b7d2a55-9"
    body = request.json
    assert {k: body[k] for k in ("id", "stream", "type", "data")} == {
        "id": "0b7d2a55-9",
        "stream": "call:CA1",
        "type": "alert",
        "data": ALERT,
    }
    assert body["sent_at"].endswith("Z")
    header = request.headers[SIGNATURE_HEADER.lower()]
    assert verify(SECRET, header, request.body)
    assert not verify("another-secret-of-some-length", header, request.body)
    assert not verify(SECRET, header, request.body.replace(b"-0.72", b"-0.10"))
    (status,) = dispatcher.status()
    assert (status["delivered"], status["failed"], status["queued"]) == (1, 0, 0)
    assert status["last_success"] is not None and status["last_error"] is None


def test_the_signature_is_an_hmac_of_timestamp_dot_body() -> None:
    body = b'{"id":"1"}'
    expected = hmac.new(SECRET.encode(), b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign(SECRET, 1700000000, body) == f"t=1700000000,v1={expected}"


def test_verify_rejects_stale_future_and_malformed_signatures() -> None:
    body = b"{}"
    header = sign(SECRET, 1_000_000, body)
    assert verify(SECRET, header, body, now=1_000_299)
    assert not verify(SECRET, header, body, now=1_000_301)
    assert not verify(SECRET, header, body, now=999_600)
    for bad in (
        "",
        "garbage",
        "t=1000000",
        "v1=ab",
        "t=x,v1=ab",
        "t=1000000,t=1,v1=ab",
        "t=\u0661,v1=\u00e9",
    ):
        assert not verify(SECRET, bad, body, now=1_000_000)


def test_verify_accepts_any_of_several_signatures_while_a_secret_rotates() -> None:
    old = sign("old-secret-0123456789", 50, b"x").split(",")[1]
    header = sign(SECRET, 50, b"x").replace(",", f",{old},")
    assert verify(SECRET, header, b"x", now=50)
    assert verify("old-secret-0123456789", header, b"x", now=50)


# -- which events go where -----------------------------------------------------------------


async def test_each_endpoint_gets_only_the_event_groups_it_chose() -> None:
    async with receiving() as alerts, receiving() as campaigns:
        targets = [endpoint(alerts.url, "alert"), endpoint(campaigns.url, "campaign")]
        async with dispatching(targets) as dispatcher:
            for n, kind in enumerate(["alert", "progress", "transcript", "contact", "call_status"]):
                dispatcher.offer(CAMPAIGN_4, f"e-{n}", kind, {"n": n})
            dispatcher.offer(CAMPAIGN_4, "e-9", "campaign_completed", {})
            await dispatcher.wait_idle()
    assert [r.json["type"] for r in alerts.requests] == ["alert"]
    assert [r.json["type"] for r in campaigns.requests] == [
        "progress",
        "contact",
        "campaign_completed",
    ]


async def test_the_same_event_id_is_posted_once() -> None:
    async with receiving() as receiver, dispatching([endpoint(receiver.url)]) as dispatcher:
        dispatcher.offer(CA1, "e-1", "alert", ALERT)
        dispatcher.offer(CA1, "e-1", "alert", ALERT)  # e.g. an upstream reconnect
        await dispatcher.wait_idle()
        dispatcher.offer(CA1, "e-1", "alert", ALERT)  # after it was delivered, too
        dispatcher.offer(CA1, "e-2", "alert", ALERT)
        await dispatcher.wait_idle()
    assert [r.json["id"] for r in receiver.requests] == ["e-1", "e-2"]
    assert dispatcher.status()[0]["duplicates"] == 2


async def test_a_full_queue_drops_its_oldest_events() -> None:
    async with receiving() as receiver:
        dispatcher = WebhookDispatcher([endpoint(receiver.url)], queue_size=3)
        for n in range(5):  # no worker yet: the queue fills
            dispatcher.offer(CA1, f"e-{n}", "alert", {"n": n})
        assert dispatcher.status()[0]["queued"] == 3
        assert dispatcher.status()[0]["dropped"] == 2
        dispatcher.start()
        await dispatcher.wait_idle()
        await dispatcher.close()
    assert [r.json["id"] for r in receiver.requests] == ["e-2", "e-3", "e-4"]


# -- retries -------------------------------------------------------------------------------


async def test_server_errors_and_rate_limits_are_retried_with_growing_delays() -> None:
    async with receiving() as receiver:
        receiver.plan.extend([500, 503, 429])
        options = {"backoff_base": 0.05, "backoff_cap": 1.0}
        async with dispatching([endpoint(receiver.url)], **options) as dispatcher:
            dispatcher.offer(CA1, "e-1", "alert", ALERT)
            requests = await receiver.wait_for(4)
            await dispatcher.wait_idle()
    assert {r.json["id"] for r in requests} == {"e-1"}
    assert all(verify(SECRET, r.headers["x-burki-live-signature"], r.body) for r in requests)
    gaps = [b.at - a.at for a, b in pairwise(requests)]
    # Backoff with jitter 0.5: the k-th delay is within [base * 2**k / 2, base * 2**k].
    assert all(gap >= 0.9 * 0.05 * 2**k / 2 for k, gap in enumerate(gaps))
    status = dispatcher.status()[0]
    assert (status["delivered"], status["retries"], status["failed"]) == (1, 3, 0)
    assert status["last_error"] == "HTTP 429"


async def test_retries_stop_after_max_attempts_and_the_next_event_still_goes() -> None:
    receiving_errors = receiving(default=500)
    async with (
        receiving_errors as receiver,
        dispatching([endpoint(receiver.url)], max_attempts=4) as dispatcher,
    ):
        dispatcher.offer(CA1, "e-1", "alert", ALERT)
        await dispatcher.wait_idle()
        assert len(receiver.requests) == 4
        receiver.default = 200
        dispatcher.offer(CA1, "e-2", "alert", ALERT)
        await dispatcher.wait_idle()
    assert [r.json["id"] for r in receiver.requests] == ["e-1"] * 4 + ["e-2"]
    status = dispatcher.status()[0]
    assert (status["failed"], status["delivered"], status["retries"]) == (1, 1, 3)
    assert status["last_error"] == "HTTP 500"


@pytest.mark.parametrize(
    "answer", [400, 401, 404, 410, (302, {"Location": "http://127.0.0.1:9/elsewhere"})]
)
async def test_a_client_error_or_redirect_fails_at_once_without_retry(
    answer: int | tuple[int, dict[str, str]],
) -> None:
    async with receiving() as receiver:
        receiver.plan.append(answer)
        async with dispatching([endpoint(receiver.url)]) as dispatcher:
            dispatcher.offer(CA1, "e-1", "alert", ALERT)
            await dispatcher.wait_idle()
    assert len(receiver.requests) == 1
    status = dispatcher.status()[0]
    assert (status["failed"], status["retries"], status["delivered"]) == (1, 0, 0)


def test_which_statuses_are_retried() -> None:
    assert [s for s in (200, 302, 400, 404, 408, 425, 429, 500, 502, 503) if retryable(s)] == [
        408,
        425,
        429,
        500,
        502,
        503,
    ]


async def test_retry_after_sets_a_floor_under_the_delay_within_the_cap() -> None:
    async with receiving() as receiver:
        receiver.plan.append((503, {"Retry-After": "120"}))
        options = {"backoff_base": 0.001, "backoff_cap": 0.3}
        async with dispatching([endpoint(receiver.url)], **options) as dispatcher:
            dispatcher.offer(CA1, "e-1", "alert", ALERT)
            first, second = await receiver.wait_for(2)
    assert 0.27 <= second.at - first.at < 5


async def test_a_hanging_endpoint_times_out_and_is_retried() -> None:
    async with receiving() as receiver:
        receiver.plan.append(HANG)
        async with dispatching([endpoint(receiver.url)], timeout=0.3) as dispatcher:
            dispatcher.offer(CA1, "e-1", "alert", ALERT)
            await dispatcher.wait_idle()
    assert len(receiver.requests) == 2
    status = dispatcher.status()[0]
    assert (status["delivered"], status["retries"]) == (1, 1)
    assert status["last_error"] == "timed out after 0.3 s"


async def test_a_dead_endpoint_is_retried_then_given_up(caplog: pytest.LogCaptureFixture) -> None:
    async with dispatching([endpoint(dead_url())], max_attempts=3) as dispatcher:
        dispatcher.offer(CA1, "e-1", "alert", ALERT)
        await dispatcher.wait_idle()
    status = dispatcher.status()[0]
    assert (status["failed"], status["retries"], status["queued"]) == (1, 2, 0)
    assert status["last_error"] == "ConnectError"
    assert "gave up on event e-1 after 3 attempt(s): ConnectError" in caplog.text


# -- the caller is never slowed ------------------------------------------------------------


async def test_a_dead_or_hanging_endpoint_never_slows_the_caller_or_other_endpoints() -> None:
    async with receiving(default=HANG) as hanging, receiving() as healthy:
        targets = [endpoint(hanging.url), endpoint(dead_url()), endpoint(healthy.url, "alert")]
        async with dispatching(targets, timeout=30.0, backoff_cap=30.0) as dispatcher:
            assert not inspect.iscoroutinefunction(dispatcher.offer)
            started = time.perf_counter()
            for n in range(1000):
                dispatcher.offer(CAMPAIGN_4, f"p-{n}", "progress", {"n": n})
            for n in range(20):
                dispatcher.offer(CA1, f"a-{n}", "alert", ALERT)
            elapsed = time.perf_counter() - started
            await hanging.wait_for(1)
            await healthy.wait_for(20)  # delivered while the others hang and fail
            stuck = dispatcher.status()
    assert elapsed < 0.5  # in practice a few milliseconds: offer only appends to deques
    assert [r.json["id"] for r in healthy.requests] == [f"a-{n}" for n in range(20)]
    assert stuck[0]["queued"] == stuck[1]["queued"] == 1000  # 1020 offered, queue of 1000
    assert stuck[0]["dropped"] == 20


async def test_close_cancels_a_request_in_flight_promptly() -> None:
    async with receiving(default=HANG) as receiver:
        dispatcher = WebhookDispatcher([endpoint(receiver.url)], timeout=60.0)
        dispatcher.start()
        dispatcher.offer(CA1, "e-1", "alert", ALERT)
        await receiver.wait_for(1)
        await asyncio.wait_for(dispatcher.close(), 1.0)
        assert dispatcher.status()[0]["delivered"] == 0
        dispatcher.offer(CA1, "e-2", "alert", ALERT)  # after close: ignored
        assert dispatcher.status()[0]["queued"] == 0


async def test_close_can_drain_the_queues_first() -> None:
    async with receiving() as receiver:
        dispatcher = WebhookDispatcher([endpoint(receiver.url)])
        dispatcher.start()
        for n in range(5):
            dispatcher.offer(CA1, f"e-{n}", "alert", ALERT)
        await dispatcher.close(drain=5.0)
    assert len(receiver.requests) == 5


async def test_a_client_passed_in_is_used_and_left_open() -> None:
    async with receiving() as receiver, httpx.AsyncClient() as client:
        async with dispatching([endpoint(receiver.url)], client=client) as dispatcher:
            dispatcher.offer(CA1, "e-1", "alert", ALERT)
            await dispatcher.wait_idle()
        assert not client.is_closed
    assert dispatcher.status()[0]["delivered"] == 1


async def test_an_event_that_is_not_json_is_logged_and_not_queued(
    caplog: pytest.LogCaptureFixture,
) -> None:
    dispatcher = WebhookDispatcher([endpoint(dead_url())])
    dispatcher.offer(CA1, "e-1", "alert", {"score": float("nan")})
    assert dispatcher.status()[0]["queued"] == 0
    assert "event e-1 (alert) is not JSON" in caplog.text
    await dispatcher.close()


# -- secrets stay secret -------------------------------------------------------------------


async def test_no_secret_reaches_a_repr_the_status_or_our_log_lines(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    secrets = (SECRET, "pw-9f8e7d6c", "q-5a4b3c2d", "frag-1e2d3c")
    hidden = "//alice:pw-9f8e7d6c@"
    async with receiving(default=500) as receiver:
        live = endpoint(receiver.url.replace("//", hidden) + "?token=q-5a4b3c2d#frag-1e2d3c")
        dead = endpoint(dead_url().replace("//", hidden) + "?token=q-5a4b3c2d")
        async with dispatching([live, dead], max_attempts=2) as dispatcher:
            dispatcher.offer(CA1, "e-1", "alert", ALERT)
            await dispatcher.wait_idle()
    assert receiver.requests[0].headers["authorization"].startswith("Basic ")
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("webapp")]
    assert len(ours) == 2  # one "gave up" line per endpoint
    shown = repr([live, dead]) + json.dumps(dispatcher.status()) + "\n".join(ours)
    assert not [secret for secret in secrets if secret in shown]
    assert dispatcher.status()[0]["url"] == safe_url(live.url)
    assert dispatcher.status()[0]["url"].startswith(receiver.url.removesuffix("/hook") + "/…#")
    assert live.secrets == (SECRET, "pw-9f8e7d6c", "token=q-5a4b3c2d", "q-5a4b3c2d", "frag-1e2d3c")
    assert dispatcher.totals() == {
        "queued": 0,
        "delivered": 0,
        "failed": 2,
        "dropped": 0,
        "duplicates": 0,
        "retries": 2,
        "lost": 0,
    }


async def test_the_redacting_filter_masks_what_httpx_logs_given_the_endpoint_secrets(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="httpx")
    async with receiving() as receiver:
        target = endpoint(receiver.url.replace("//", "//alice:pw-9f8e7d6c@") + "?token=q-5a4b3c2d")
        caplog.handler.addFilter(RedactingFilter(target.secrets))
        async with dispatching([target]) as dispatcher:
            dispatcher.offer(CA1, "e-1", "alert", ALERT)
            await dispatcher.wait_idle()
    (line,) = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert "HTTP Request: POST" in line
    assert "pw-9f8e7d6c" not in caplog.text and "q-5a4b3c2d" not in caplog.text


# -- the setting ---------------------------------------------------------------------------


def test_endpoints_are_read_from_a_json_list() -> None:
    text = json.dumps(
        [
            {"url": "https://hooks.example.com/a", "secret": SECRET, "events": ["alert"]},
            {"url": "http://10.0.0.5:8080/b", "secret": SECRET},
        ]
    )
    first, second = parse_endpoints(text)
    assert (first.url, first.secret, first.events) == (
        "https://hooks.example.com/a",
        SECRET,
        frozenset({"alert"}),
    )
    assert second.events == frozenset({"alert", "campaign", "call_status"})
    assert parse_endpoints("") == parse_endpoints("  ") == []
    assert parse_endpoints("[]") == []


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('{"url": 1}', "webhook endpoints must be a JSON list of objects"),
        ('[{"url": "x", "secret": "%s"', "webhook endpoints are not valid JSON"),
        ('["https://a.example"]', "webhook endpoint 1 must be an object"),
        ('[{"url": "ftp://a.example/x", "secret": "%s"}]', "webhook endpoint 1: url must be"),
        ('[{"url": "https://", "secret": "%s"}]', "url must be an http or https URL with a host"),
        ('[{"url": "https://a.example", "secret": "short"}]', "secret must be a string of 16+"),
        ('[{"url": "https://a.example", "secret": "%s", "events": []}]', "non-empty list"),
        ('[{"url": "https://a.example", "secret": "%s", "events": ["calls"]}]', "group(s) calls"),
        ('[{"url": "https://a.example", "secret": "%s", "events": [[1]]}]', "group(s) [1]"),
        ('[{"url": "https://a.example", "secret": "%s", "event": ["alert"]}]', "key(s) event"),
    ],
)
def test_a_bad_endpoint_setting_is_refused_in_one_line_without_the_secret(
    entry: str, message: str
) -> None:
    with pytest.raises(ValueError) as raised:
        parse_endpoints(entry.replace("%s", SECRET))
    text = str(raised.value)
    assert message in text
    assert SECRET not in text and "\n" not in text
    assert raised.value.__context__ is None or raised.value.__suppress_context__


def test_an_endpoint_repr_hides_its_secret() -> None:
    assert SECRET not in repr(
        parse_endpoints(f'[{{"url":"https://a.example","secret":"{SECRET}"}}]')
    )


def test_safe_url_keeps_only_scheme_host_and_a_hash() -> None:
    shown = safe_url("https://u:p@Hooks.Example.com:8443/x/path-secret?sig=1#f")
    assert re.fullmatch(r"https://hooks\.example\.com:8443/…#[0-9a-f]{8}", shown)
    assert "path-secret" not in shown and "sig" not in shown and "u:p" not in shown
    assert safe_url("https://h.example/a") != safe_url("https://h.example/b")  # told apart
    assert safe_url("http://[::1]:80/h").startswith("http://[::1]:80/…#")
    assert safe_url("http://a:99999999/") == "(invalid URL)"


async def test_events_offered_before_start_are_delivered_once_it_runs() -> None:
    # offer() may run before the lifespan starts the workers; nothing is lost.
    async with receiving() as receiver:
        dispatcher = WebhookDispatcher([endpoint(receiver.url)])
        dispatcher.offer(CA1, "e-1", "call_status", {"status": "completed"})
        dispatcher.start()
        dispatcher.start()  # a second start does nothing
        await dispatcher.wait_idle()
        await dispatcher.close()
    assert len(receiver.requests) == 1

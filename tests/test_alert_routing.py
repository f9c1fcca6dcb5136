"""Alert routing over real sockets: Slack and Teams hooks to a local receiver, e-mail to a
local SMTP server (aiosmtpd), routed by severity and kind, retried by the one dispatcher;
the "send a test" button of /admin; the hook URLs never shown."""

from __future__ import annotations

import asyncio
import json
import re
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.live import csrf_of, running_app
from tests.receiver import receiving
from webapp.alerts.endpoints import Endpoint, parse_endpoints
from webapp.alerts.mail import Mailer
from webapp.alerts.webhooks import WebhookDispatcher
from webapp.simulator import Simulator
from webapp.wire.streamkey import StreamKey

PUBLIC = "https://live.example.com"
SID = "CA0123456789abcdef0123456789abcdef"


def alert(ident: str, severity: str, kind: str) -> dict[str, Any]:
    return {
        "id": ident,
        "kind": kind,
        "severity": severity,
        "message": f'Caller said "{kind}"',
        "excerpt": "I want my <money> back",
    }


def chat(url: str, format: str, **routing: Any) -> Endpoint:
    return parse_endpoints(json.dumps([{"url": url, "format": format, **routing}]))[0]


@asynccontextmanager
async def dispatching(
    endpoints: list[Endpoint], **options: Any
) -> AsyncIterator[WebhookDispatcher]:
    options = {"backoff_base": 0.01, "backoff_cap": 0.05, "timeout": 2.0, **options}
    dispatcher = WebhookDispatcher(endpoints, public_url=PUBLIC, **options)
    dispatcher.start()
    try:
        yield dispatcher
    finally:
        await asyncio.wait_for(dispatcher.close(), 5)


async def test_slack_gets_block_kit_with_a_link_only_for_the_alerts_routed_to_it() -> None:
    async with receiving() as receiver:
        hook = chat(receiver.url, "slack", severities=["high"], kinds=["keyword"])
        async with dispatching([hook]) as dispatcher:
            dispatcher.offer(StreamKey.call(SID), "a", "alert", alert("a", "medium", "keyword"))
            dispatcher.offer(StreamKey.call(SID), "b", "alert", alert("b", "high", "sentiment"))
            dispatcher.offer(StreamKey.call(SID), "c", "alert", alert("c", "high", "keyword"))
            dispatcher.offer(StreamKey.call(SID), "d", "call_status", {"status": "completed"})
            await dispatcher.wait_idle()
        assert len(receiver.requests) == 1  # only the high keyword alert
        message = receiver.requests[0].json
        assert receiver.requests[0].headers["content-type"] == "application/json"
        assert message["text"].startswith(f"HIGH alert on call {SID}")
        section, context, actions = message["blocks"]
        assert section["type"] == "section" and section["text"]["type"] == "mrkdwn"
        where = {"type": "plain_text", "text": "Organisation: default"}  # no names given
        assert context == {"type": "context", "elements": [where]}
        assert "&lt;money&gt;" in section["text"]["text"]  # Slack's control characters escaped
        button = actions["elements"][0]
        assert actions["type"] == "actions" and button["type"] == "button"
        assert button["url"] == f"{PUBLIC}/calls/{SID}"


async def test_teams_gets_a_message_card_and_a_failed_post_is_retried() -> None:
    async with receiving() as receiver:
        receiver.plan.extend([503])
        async with dispatching([chat(receiver.url, "teams")]) as dispatcher:
            dispatcher.offer(StreamKey.call(SID), "a", "alert", alert("a", "low", "sentiment"))
            await dispatcher.wait_idle()
            assert dispatcher.status()[0]["retries"] == 1
            assert dispatcher.status()[0]["delivered"] == 1
        first, second = receiver.requests
        assert first.body == second.body
        card = second.json
        assert (
            card["@type"] == "MessageCard" and card["@context"] == "https://schema.org/extensions"
        )
        assert card["title"] == f"LOW alert on call {SID}" and card["themeColor"] == "6B7280"
        action = card["potentialAction"][0]
        assert action["@type"] == "OpenUri"
        assert action["targets"] == [{"os": "default", "uri": f"{PUBLIC}/calls/{SID}"}]


async def test_a_callers_words_reach_teams_as_text_never_as_markup_or_a_link() -> None:
    hostile = {
        **alert("h", "high", "keyword"),
        "excerpt": '<a href="https://evil.example">refund</a> [claim it](https://evil.example)'
        " ![x](https://evil.example/p.png) **now**\n# Urgent\n<img src=x onerror=alert(1)>",
    }
    async with receiving() as receiver:
        async with dispatching([chat(receiver.url, "teams")]) as dispatcher:
            dispatcher.offer(StreamKey.call(SID), "h", "alert", hostile)
            await dispatcher.wait_idle()
        card = receiver.requests[0].json
    text = card["text"]
    assert "<" not in text and "\n" not in text
    assert not re.search(r"(?<!\\)[\[\]*#]", text), text  # every Markdown marker escaped
    assert "&lt;a href=" in text and "\\[claim it\\]" in text and "\\*\\*now\\*\\*" in text
    assert "refund" in text  # the words are still there, as words


def test_chat_hooks_need_no_secret_but_signed_ones_do_and_routing_is_checked() -> None:
    slack = chat("https://hooks.slack.com/services/T1/B2/sekret", "slack")
    assert slack.events == frozenset({"alert"}) and slack.secret == ""
    assert "/services/T1/B2/sekret" in slack.secrets  # the path is the secret: masked in logs
    with pytest.raises(ValueError, match="secret must be"):
        parse_endpoints('[{"url": "https://a.example"}]')
    with pytest.raises(ValueError, match=r"unknown severity\(s\) urgent"):
        parse_endpoints(
            '[{"url": "https://a.example", "format": "slack", "severities": ["urgent"]}]'
        )
    with pytest.raises(ValueError, match="format must be one of"):
        parse_endpoints('[{"url": "https://a.example", "format": "irc"}]')


# -- e-mail --------------------------------------------------------------------------------


class Inbox:
    """An aiosmtpd handler: keeps what it receives; answers ``reply`` when one is set."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.messages: list[tuple[list[str], Message]] = []
        self.replies: list[str] = []  # answers to DATA, one per message, then 250
        self.changed = asyncio.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        reply = self.replies.pop(0) if self.replies else "250 OK"
        if reply.startswith("250"):
            self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        self.loop.call_soon_threadsafe(self.changed.set)
        return reply

    async def wait_for(self, count: int) -> None:
        async with asyncio.timeout(10):
            while len(self.messages) < count:
                self.changed.clear()
                await self.changed.wait()


@asynccontextmanager
async def smtp_server() -> AsyncIterator[tuple[Inbox, int]]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    inbox = Inbox(asyncio.get_running_loop())
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def email_route(port: int, **routing: Any) -> tuple[Endpoint, Mailer]:
    route = Endpoint(f"smtp://127.0.0.1:{port}", "", frozenset({"alert"}), "email", **routing)
    mailer = Mailer("127.0.0.1", port, "live@example.com", ("ops@example.com",), "none")
    return route, mailer


async def test_alerts_reach_a_mailbox_by_severity_and_a_busy_server_is_retried() -> None:
    async with smtp_server() as (inbox, port):
        inbox.replies.append("451 Try again later")
        route, mailer = email_route(port, severities=frozenset({"high"}))
        async with dispatching([route], mailer=mailer) as dispatcher:
            dispatcher.offer(StreamKey.call(SID), "a", "alert", alert("a", "low", "keyword"))
            dispatcher.offer(StreamKey.call(SID), "b", "alert", alert("b", "high", "keyword"))
            await inbox.wait_for(1)
            await dispatcher.wait_idle()
            assert dispatcher.status()[0]["retries"] == 1
        assert len(inbox.messages) == 1  # the low one was not routed here
        recipients, message = inbox.messages[0]
        assert recipients == ["ops@example.com"]
        subject = " ".join(message["Subject"].split())  # a long subject is folded
        assert subject == f"[Burki Live] [default] HIGH alert on call {SID}"
        assert message["From"] == "live@example.com"
        assert f"Open it: {PUBLIC}/calls/{SID}" in message.get_payload()


async def test_a_refused_mail_is_given_up_at_once() -> None:
    async with smtp_server() as (inbox, port):
        inbox.replies.append("554 No thanks")
        route, mailer = email_route(port)
        async with dispatching([route], mailer=mailer) as dispatcher:
            dispatcher.offer(StreamKey.call(SID), "a", "alert", alert("a", "high", "keyword"))
            await dispatcher.wait_idle()
            status = dispatcher.status()[0]
        assert status["failed"] == 1 and status["retries"] == 0
        assert status["last_error"] == "SMTP 554" and not inbox.messages


# -- /admin --------------------------------------------------------------------------------


async def test_send_a_test_from_admin_reaches_slack_and_the_hook_url_is_never_shown(
    sim: Simulator,
) -> None:
    async with receiving() as receiver:
        secret_path = "/services/T000/B000/XXXXSECRETXXXX"
        url = f"http://127.0.0.1:{receiver.port}{secret_path}"
        hooks = json.dumps([{"url": url, "format": "slack", "severities": ["high"]}])
        settings = {"webhook_endpoints": hooks, "dashboard_public_url": PUBLIC}
        async with running_app(sim, **settings) as live, live.client(timeout=10) as root:
            token = await csrf_of(root, f"{live.url}/admin")
            refused = await root.post(f"{live.url}/admin/alert-test", data={"csrf": "forged"})
            assert refused.status_code == 403 and not receiver.requests
            done = await root.post(f"{live.url}/admin/alert-test", data={"csrf": token})
            assert done.status_code == 200 and "queued for 1 route" in done.text
            sent = (await receiver.wait_for(1))[0].json
            assert "test alert" in sent["blocks"][0]["text"]["text"]
            await live.state.webhooks.wait_idle()  # type: ignore[union-attr]
            admin = (await root.get(f"{live.url}/admin")).text
            metrics = (await root.get(f"{live.url}/metrics")).text
            assert "SECRET" not in admin and "SECRET" not in metrics
            assert ">slack<" in admin
            assert any(
                e.what == "test alert to 1 route(s)"
                for e in await live.state.access.audit.entries()
            )

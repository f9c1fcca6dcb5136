"""What one client may hold of the server: request heads bounded however they arrive, bodies
that must come in time and fit their route, and one address's share of the connections.

Attacks as an attacker makes them: many real slow clients at once from one address
(127.0.0.1), while a person on another address (127.0.0.2, also loopback) is served.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from tests.live import LiveApp, running_app
from webapp.delivery.connguard import AddressShare, BodyClock, BodyPace, head_too_large
from webapp.simulator import Simulator

Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def connect(live: LiveApp, source: str = "127.0.0.1") -> Conn:
    parts = urlsplit(live.url)
    return await asyncio.open_connection(parts.hostname, parts.port, local_addr=(source, 0))


async def status_line(reader: asyncio.StreamReader) -> bytes:
    return await asyncio.wait_for(reader.readline(), 10)


async def test_a_whole_oversized_head_in_one_read_is_refused(sim: Simulator) -> None:
    async with running_app(sim) as live:
        reader, writer = await connect(live)
        big = b"X-Big: " + b"a" * 100_000 + b"\r\n"
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + big + b"\r\n")  # one write
        assert (await status_line(reader)).startswith(b"HTTP/1.1 431")
        writer.close()
        async with httpx.AsyncClient() as client:  # a head under the limit is served
            answer = await client.get(f"{live.url}/healthz", headers={"X-Fine": "a" * 20_000})
            assert answer.status_code == 200


async def test_a_body_larger_than_its_route_takes_is_refused_before_it_is_sent(
    sim: Simulator,
) -> None:
    async with running_app(sim) as live:
        reader, writer = await connect(live)
        writer.write(b"POST /signin HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
        assert (await status_line(reader)).startswith(b"HTTP/1.1 413")
        assert await asyncio.wait_for(reader.read(), 10)  # the rest, then closed
        writer.close()
        async with httpx.AsyncClient() as client:
            got = await client.request("GET", f"{live.url}/healthz", content=b"x" * 10)
            assert got.status_code == 413  # a route that reads no body takes none
            chunked = await client.post(f"{live.url}/signin", content=chunks())
            assert chunked.status_code == 411  # a form without a length
            form = await client.post(f"{live.url}/signin", data={"username": "a", "password": "b"})
            assert form.status_code not in (411, 413)


async def test_body_refusals_are_answered_by_the_error_map_json_for_programs_a_page_for_people(
    sim: Simulator,
) -> None:
    async with running_app(sim) as live, httpx.AsyncClient() as client:
        api = await client.request("GET", f"{live.url}/api/events", content=b"x" * 10)
        assert api.status_code == 413 and api.headers["connection"] == "close"
        assert api.json()["error"] == "body_too_large"
        html = {"Accept": "text/html"}
        page = await client.post(f"{live.url}/signin", content=chunks(), headers=html)
        assert page.status_code == 411 and page.headers["connection"] == "close"
        assert page.headers["content-type"].startswith("text/html")
        assert "Send a Content-Length." in page.text and "<html" in page.text.lower()
        big = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
        form = await client.post(f"{live.url}/signin", content=b"a=" + b"1" * 100_000, headers=big)
        assert form.status_code == 413 and form.json()["error"] == "body_too_large"


async def chunks() -> AsyncIterator[bytes]:
    yield b"a=1"


@dataclass
class Attack:
    refusals_expected: int
    refused: list[bytes] = field(default_factory=list)
    cut: list[float] = field(default_factory=list)  # bytes of the body sent when cut
    all_refused: asyncio.Event = field(default_factory=asyncio.Event)

    def refuse(self, answer: bytes) -> None:
        self.refused.append(answer)
        if len(self.refused) >= self.refusals_expected:
            self.all_refused.set()


async def slow_body(live: LiveApp, attack: Attack) -> None:
    """A sign-in form sent a byte at a time, until the server answers or closes."""
    refused, cut = attack, attack.cut
    reader, writer = await connect(live)
    try:
        writer.write(b"POST /signin HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n")
        for sent in range(5000):
            with contextlib.suppress(TimeoutError):
                answer = await asyncio.wait_for(reader.read(200), 0.2)
                if answer.startswith(b"HTTP/1.1 503"):
                    refused.refuse(answer)
                    return
                cut.append(sent)  # closed (b"") or answered before the body was whole
                return
            writer.write(b"a")
            await writer.drain()
        cut.append(5000.0)
    except (ConnectionError, OSError):
        cut.append(-1.0)
    finally:
        writer.close()


async def test_slow_bodies_from_one_address_are_cut_and_never_crowd_out_another(
    sim: Simulator,
) -> None:
    limits = {
        "dashboard_max_connections": 40,
        "dashboard_max_connections_per_address": 10,
        "dashboard_header_timeout": 1.0,
        "dashboard_body_timeout": 3.0,
        "dashboard_body_min_rate": 100,
    }
    async with running_app(sim, **limits) as live:
        attack = Attack(refusals_expected=30)
        clients = [asyncio.create_task(slow_body(live, attack)) for _ in range(40)]
        # every connection past the address's share is refused
        await asyncio.wait_for(attack.all_refused.wait(), 30)
        transport = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
        async with httpx.AsyncClient(transport=transport) as person:
            page = await person.get(f"{live.url}/signin")
            assert page.status_code == 200  # while the attacker holds its share
        await asyncio.wait_for(asyncio.gather(*clients), 30)
        assert len(attack.refused) == 30
        assert len(attack.cut) == 10
        assert all(0 <= sent < 5000 for sent in attack.cut)  # each cut long before its body was in


async def test_connections_through_a_trusted_proxy_are_not_limited_per_address(
    sim: Simulator,
) -> None:
    limits = {
        "dashboard_max_connections": 40,
        "dashboard_max_connections_per_address": 2,
        "dashboard_trusted_proxies": "127.0.0.1",
    }
    async with running_app(sim, **limits) as live:
        held = [await connect(live) for _ in range(5)]
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"{live.url}/healthz")).status_code == 200
        for _, writer in held:
            writer.close()


def test_a_head_counts_up_to_its_end_however_it_was_split() -> None:
    head = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    assert not head_too_large(0, head + b"b" * 10_000, len(head))  # the body is not the head's
    assert head_too_large(0, head, len(head) - 1)
    assert head_too_large(len(head) - 4, b"\r\n\r\n", len(head) - 1)
    assert not head_too_large(10, b"abc", 13)


def test_a_body_buys_time_with_each_byte_up_to_the_whole_body_deadline() -> None:
    clock, pace = BodyClock(), BodyPace(grace=10.0, min_rate=100.0, timeout=30.0)
    clock.begin("c", 0.0)
    assert clock.due("c", pace) == 10.0
    clock.received("c", 500)
    assert clock.due("c", pace) == 15.0
    clock.received("c", 10_000)
    assert clock.due("c", pace) == 30.0
    clock.end("c")
    assert clock.due("c", pace) is None


def test_each_address_holds_at_most_its_share() -> None:
    share = AddressShare(2, [])
    assert share.admit("a", "10.0.0.1") and share.admit("b", "10.0.0.1")
    assert not share.admit("c", "10.0.0.1")
    assert share.admit("d", "2001:db8::1") and share.admit("e", "2001:db8::2")
    assert not share.admit("f", "2001:db8::3")  # one IPv6 /64 is one address
    share.leave("a")
    assert share.admit("c", "10.0.0.1")
    assert share.open["10.0.0.1"] == 2


async def test_a_pipelined_request_behind_a_served_one_is_on_the_clock_too(
    sim: Simulator,
) -> None:
    """A whole request, then a second one's head (or its head and two bytes of its body),
    then silence: the first is answered, and the connection is closed once the second is
    late, not when the keep-alive timeout would have cut it."""
    limits = {
        "dashboard_header_timeout": 0.5,
        "dashboard_body_timeout": 1.0,
        "dashboard_keepalive_timeout": 60.0,
    }
    async with running_app(sim, **limits) as live:
        for tail in (
            b"POST /signin HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab",
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ",
        ):
            reader, writer = await connect(live)
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" + tail)
            answer = await asyncio.wait_for(reader.read(), 10)  # returns once closed
            assert answer.startswith(b"HTTP/1.1 200")
            writer.close()

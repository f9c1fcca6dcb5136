"""Whom the dashboard believes: SSO roles, forwarded headers, the cookie's Secure flag, and
clients that hold connections without finishing a request."""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.live import LiveApp, running_app
from webapp.access.users import Role
from webapp.delivery.protocol import HeadDeadlines
from webapp.simulator import Simulator

PASSWORD = "correct horse battery staple"
SSO = {"dashboard_auth_mode": "sso", "dashboard_trusted_proxies": "127.0.0.1"}


async def status_of(client: httpx.AsyncClient, url: str, **headers: str) -> int:
    async with client.stream("GET", url, headers=headers) as response:
        return response.status_code


def as_user(name: str, role: str | None = None) -> dict[str, str]:
    headers = {"X-Forwarded-User": name}
    if role is not None:
        headers["X-Forwarded-Role"] = role
    return headers


async def test_the_roles_file_decides_and_the_role_header_never_raises_it(
    sim: Simulator, tmp_path: Path
) -> None:
    sid = sim.add_call()
    roles = tmp_path / "roles.toml"
    roles.write_text('[roles]\ngrace = "supervisor"\n')
    with_file = SSO | {"dashboard_sso_roles_file": roles, "dashboard_sso_role_header_enabled": True}
    async with running_app(sim, **with_file) as live, httpx.AsyncClient() as client:
        assert (
            await status_of(client, f"{live.url}/calls/{sid}", **as_user("grace", "admin")) == 200
        )
        assert await status_of(client, f"{live.url}/admin", **as_user("grace", "admin")) == 403
        unlisted = as_user("mallory", "admin")
        assert await status_of(client, f"{live.url}/admin", **unlisted) == 303


async def test_the_role_header_counts_only_when_enabled(sim: Simulator) -> None:
    sid = sim.add_call()
    async with running_app(sim, **SSO) as live, httpx.AsyncClient() as client:
        assert (
            await status_of(client, f"{live.url}/calls/{sid}", **as_user("grace", "admin")) == 303
        )
    enabled = SSO | {"dashboard_sso_role_header_enabled": True}
    async with running_app(sim, **enabled) as live, httpx.AsyncClient() as client:
        url = f"{live.url}/calls/{sid}"
        assert await status_of(client, url, **as_user("grace", "supervisor")) == 200


async def test_password_sign_in_is_off_in_sso_mode(sim: Simulator) -> None:
    async with running_app(sim, **SSO) as live, httpx.AsyncClient() as client:
        await live.state.access.users.add("ada", PASSWORD, Role.ADMIN)
        form = await client.get(f"{live.url}/signin")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        data = {"name": "ada", "password": PASSWORD, "csrf": csrf[1] if csrf else "", "next": "/"}
        answer = await client.post(f"{live.url}/signin", data=data)
        assert answer.status_code == 403
        assert await status_of(client, f"{live.url}/") == 303  # no session came of it


async def failed_sign_ins(live: LiveApp, count: int) -> list[int]:
    """``count`` wrong sign-ins, each claiming another address in X-Forwarded-For."""
    found = []
    async with httpx.AsyncClient(timeout=30) as client:
        form = await client.get(f"{live.url}/signin")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert csrf
        for n in range(count):
            data = {"name": f"user{n}", "password": "nope", "csrf": csrf[1], "next": "/"}
            forged = {"X-Forwarded-For": f"198.51.100.{n + 1}"}
            answer = await client.post(f"{live.url}/signin", data=data, headers=forged)
            found.append(answer.status_code)
    return found


async def test_forwarded_addresses_are_ignored_unless_a_proxy_is_configured(
    sim: Simulator,
) -> None:
    async with running_app(sim) as live:
        answers = await failed_sign_ins(live, 22)
        assert answers == [401] * 20 + [429] * 2  # one address, whatever the header claims
        addresses = {e.address for e in await live.state.access.audit.entries(None)}
        assert addresses == {"127.0.0.1"}


async def test_a_configured_proxy_sets_the_client_address(sim: Simulator) -> None:
    proxy = {"dashboard_trusted_proxies": "127.0.0.1"}
    async with running_app(sim, **proxy) as live:
        assert await failed_sign_ins(live, 22) == [401] * 22  # 22 real clients behind it
        addresses = {e.address for e in await live.state.access.audit.entries(None)}
        assert "198.51.100.22" in addresses and "127.0.0.1" not in addresses


async def test_sso_trust_goes_by_the_connecting_peer_not_a_forwarded_address(
    sim: Simulator,
) -> None:
    sid = sim.add_call()
    elsewhere = SSO | {
        "dashboard_trusted_proxies": "10.0.0.1",
        "dashboard_sso_role_header_enabled": True,
    }
    async with running_app(sim, **elsewhere) as live, httpx.AsyncClient() as client:
        forged = as_user("grace", "supervisor") | {"X-Forwarded-For": "10.0.0.1"}
        assert await status_of(client, f"{live.url}/calls/{sid}", **forged) == 303


async def test_the_session_cookie_is_secure_when_the_request_came_over_https(
    sim: Simulator,
) -> None:
    proxy = {"dashboard_trusted_proxies": "127.0.0.1"}
    async with running_app(sim, **proxy) as live, httpx.AsyncClient() as client:
        plain = await client.get(live.url + live.state.access.links.issue("a", Role.ADMIN))
        assert "secure" not in plain.headers["set-cookie"].lower()
        link = live.state.access.links.issue("b", Role.ADMIN)
        https = await client.get(live.url + link, headers={"X-Forwarded-Proto": "https"})
        assert "; secure" in https.headers["set-cookie"].lower()


async def test_a_half_sent_request_is_closed_after_the_header_timeout(sim: Simulator) -> None:
    async with running_app(sim, dashboard_header_timeout=0.5) as live:
        parts = urlsplit(live.url)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # never finished
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 10) == b""  # closed by the server
        writer.close()
        async with httpx.AsyncClient() as client:  # whole requests are served as ever
            assert (await client.get(f"{live.url}/healthz")).status_code == 200


async def test_connections_beyond_the_limit_get_503(sim: Simulator) -> None:
    async with running_app(sim, dashboard_max_connections=10) as live:
        parts = urlsplit(live.url)
        idle = [await asyncio.open_connection(parts.hostname, parts.port) for _ in range(10)]
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"{live.url}/healthz")).status_code == 503
            for _, writer in idle:
                writer.close()
                await writer.wait_closed()
            for _ in range(100):  # the server notices the closes on its own schedule
                answer = await client.get(f"{live.url}/healthz")
                if answer.status_code == 200:
                    break
            assert answer.status_code == 200


class Waiting:
    """A connection waiting for its head, as :class:`HeadDeadlines` sees it."""

    def __init__(self, closed: asyncio.Event) -> None:
        self.closed = closed
        self.late = 0

    def too_slow(self) -> None:
        self.late += 1
        self.closed.set()


async def test_head_deadlines_close_the_late_and_forget_the_served_at_once() -> None:
    """One timer per deadline bucket, not per connection: a connection whose head came in
    leaves nothing behind (thousands of SSE viewers connect at once)."""
    deadlines = HeadDeadlines(asyncio.get_running_loop())
    closed = asyncio.Event()
    late = [Waiting(closed) for _ in range(3)]
    served = [Waiting(closed) for _ in range(100)]
    for w in late + served:
        deadlines.add(w, 0.2)
    assert len(deadlines.buckets) <= 2  # connections of one moment share a timer
    for w in served:
        deadlines.discard(w)
    assert sum(len(b) for b in deadlines.buckets.values()) == 3
    while any(w.late == 0 for w in late):
        await asyncio.wait_for(closed.wait(), 5)
        closed.clear()
    assert [w.late for w in late] == [1, 1, 1]
    assert all(w.late == 0 for w in served)
    assert deadlines.waiting == {}


async def test_forwarded_headers_from_an_untrusted_peer_are_said_once_in_the_log_and_on_admin(
    sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    forwarded = {"X-Forwarded-For": "203.0.113.9"}
    with caplog.at_level(logging.WARNING, logger="webapp.access.proxies"):
        async with running_app(sim) as live, live.client() as admin:
            clean = (await admin.get(f"{live.url}/admin")).text
            answers = await asyncio.gather(
                *(admin.get(f"{live.url}/healthz", headers=forwarded) for _ in range(20))
            )
            assert {a.status_code for a in answers} == {200}
            page = (await admin.get(f"{live.url}/admin")).text
        said = [r for r in caplog.records if "DASHBOARD_TRUSTED_PROXIES" in r.getMessage()]
        assert len(said) == 1 and "127.0.0.1" in said[0].getMessage()  # once, naming the peer
        assert "forwarded-warning" not in clean
        assert "forwarded-warning" in page and "DASHBOARD_TRUSTED_PROXIES" in page
        caplog.clear()
        trusted = {"dashboard_trusted_proxies": "127.0.0.1"}
        async with running_app(sim, **trusted) as live, live.client() as admin:
            await admin.get(f"{live.url}/healthz", headers=forwarded)
            assert "forwarded-warning" not in (await admin.get(f"{live.url}/admin")).text
        assert not [r for r in caplog.records if "DASHBOARD_TRUSTED_PROXIES" in r.getMessage()]

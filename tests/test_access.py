"""Who may watch, over a real server: sign-in, roles, tokens, embed links, CSRF, headers."""

from __future__ import annotations

import re
import time

import httpx
import pytest

from tests.clocks import ManualClock
from tests.live import LiveApp, Viewer, is_event, running_app
from webapp.access.users import Role
from webapp.simulator import Simulator

PASSWORD = "correct horse battery staple"
INTRANET = "https://intranet.example.com"


def paths(sid: str, cid: int) -> dict[str, str]:
    """One URL of every kind of route, with real ids."""
    return {
        "overview": "/",
        "overview updates": "/overview/updates",
        "call": f"/calls/{sid}",
        "captions": f"/calls/{sid}/captions",
        "export": f"/calls/{sid}/transcript.txt",
        "call updates": f"/live/call/call/{sid}",
        "campaign": f"/campaigns/{cid}",
        "campaign updates": f"/live/campaign/campaign/{cid}",
        "wallboard": "/wallboard",
        "wallboard updates": "/wallboard/updates",
        "embed call": f"/embed/calls/{sid}",
        "embed campaign": f"/embed/campaigns/{cid}",
        "api call": f"/api/calls/{sid}/events",
        "api campaign": f"/api/campaigns/{cid}/events",
        "api multiplexed": f"/api/events?call={sid}&campaign={cid}",
        "admin": "/admin",
        "audit csv": "/admin/audit.csv",
        "metrics": "/metrics",
        "unknown page": "/no/such/page",
        "unknown api": "/api/no/such",
    }


def is_api(path: str) -> bool:
    return path.startswith(("/api/", "/metrics", "/live/")) or path.endswith("/updates")


async def status_of(client: httpx.AsyncClient, url: str, **headers: str) -> int:
    """The status of a GET, without reading an endless stream's body."""
    async with client.stream("GET", url, headers=headers) as response:
        return response.status_code


async def test_every_route_refuses_the_signed_out(sim: Simulator) -> None:
    sid, cid = sim.add_call(), sim.add_campaign(name="Q", dialect="B", contacts=3)
    async with running_app(sim) as live, live.client(role=None) as client:
        for name, path in paths(sid, cid).items():
            async with client.stream("GET", live.url + path) as response:
                if is_api(path):
                    assert response.status_code == 401, name
                    await response.aread()
                    assert response.json()["error"] == "unauthorized", name
                else:
                    assert response.status_code == 303, name
                    assert response.headers["location"].startswith("/signin?next="), name
        assert live.hub.streams == {}  # nothing was opened upstream for a stranger
        assert (await client.get(live.url + "/healthz")).status_code == 200
        assert (await client.get(live.url + "/static/css/app.css")).status_code == 200


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (
            Role.SUPERVISOR,
            {
                "overview",
                "overview updates",
                "call",
                "captions",
                "export",
                "call updates",
                "wallboard",
                "wallboard updates",
                "embed call",
                "api call",
            },
        ),
        (
            Role.MANAGER,
            {
                "overview",
                "overview updates",
                "campaign",
                "campaign updates",
                "embed campaign",
                "api campaign",
            },
        ),
    ],
)
async def test_each_role_sees_only_what_it_may(
    sim: Simulator, role: Role, allowed: set[str]
) -> None:
    sid, cid = sim.add_call(), sim.add_campaign(name="Q", dialect="B", contacts=3)
    async with running_app(sim) as live, live.client(role=role) as client:
        for name, path in paths(sid, cid).items():
            if name.startswith("unknown"):
                continue
            status = await status_of(client, live.url + path)
            assert (status == 200) == (name in allowed), f"{role.value} {name}: {status}"
            if name not in allowed:
                assert status == 403, f"{role.value} {name}: {status}"
        overview = (await client.get(live.url + "/")).text
        assert ('id="calls" aria-labelledby="calls-h" hidden' in overview) == (role is Role.MANAGER)
        assert ('id="campaigns" aria-labelledby="campaigns-h" hidden' in overview) == (
            role is Role.SUPERVISOR
        )


async def test_api_tokens_open_the_api_but_not_pages_and_a_revoked_one_stops_at_resume(
    sim: Simulator,
) -> None:
    sid = sim.add_call()
    async with running_app(sim) as live, httpx.AsyncClient() as client:
        token = await live.token(Role.SUPERVISOR)
        client.headers["Authorization"] = f"Bearer {token}"
        assert await status_of(client, f"{live.url}/calls/{sid}") == 303  # tokens are for the API
        viewer = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
        await viewer.wait_for(is_event("status", state="live"))
        await live.state.access.tokens.revoke(
            next(t.name for t in await live.state.access.tokens.list())
        )
        sim.add_segment(sid, "user", "still flowing on the open stream")
        await viewer.wait_for(lambda e: e.event == "transcript")
        await viewer.stop()
        resume = {"Last-Event-ID": str(viewer.last_id)}
        assert await status_of(client, f"{live.url}/api/calls/{sid}/events", **resume) == 401
        client.headers["Authorization"] = "Bearer bl_forged"
        assert await status_of(client, f"{live.url}/api/calls/{sid}/events") == 401


async def test_an_expired_session_stops_an_open_stream_at_the_next_resume(sim: Simulator) -> None:
    sid = sim.add_call()
    idle = {"dashboard_session_idle_minutes": 0.04}  # 2.4 s
    clock = ManualClock(time.time())
    async with (
        running_app(sim, clock, **idle) as live,
        live.client(role=Role.SUPERVISOR) as client,
    ):
        viewer = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
        await viewer.wait_for(is_event("status", state="live"))
        await viewer.stop()
        clock.now += 2.6  # idle past the timeout
        resume = {"Last-Event-ID": str(viewer.last_id)}
        assert await status_of(client, f"{live.url}/api/calls/{sid}/events", **resume) == 401
        assert await status_of(client, f"{live.url}/calls/{sid}") == 303


async def sign_in(live: LiveApp, client: httpx.AsyncClient, password: str) -> httpx.Response:
    form = await client.get(f"{live.url}/signin")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf
    data = {"name": "ada", "password": password, "csrf": csrf[1], "next": "/wallboard"}
    return await client.post(f"{live.url}/signin", data=data)


async def test_password_sign_in_csrf_throttling_and_sign_out(sim: Simulator) -> None:
    async with running_app(sim) as live, live.client(role=None) as client:
        await live.state.access.users.add("ada", PASSWORD, Role.SUPERVISOR)
        bare = await client.post(f"{live.url}/signin", data={"name": "ada", "password": PASSWORD})
        assert bare.status_code == 403  # no CSRF token: refused before the password is looked at
        wrong = await sign_in(live, client, "not the password at all")
        assert wrong.status_code == 401 and "Wrong name or password" in wrong.text
        good = await sign_in(live, client, PASSWORD)
        assert good.status_code == 303 and good.headers["location"] == "/wallboard"
        cookie = next(c for c in client.cookies.jar if c.name == "burki_live_session")
        assert cookie.has_nonstandard_attr("httponly")
        assert cookie.get_nonstandard_attr("samesite") == "lax"
        assert (await client.get(f"{live.url}/wallboard")).status_code == 200
        assert (await client.post(f"{live.url}/signout", data={})).status_code == 403
        page = (await client.get(f"{live.url}/wallboard")).text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page)
        assert csrf
        out = await client.post(f"{live.url}/signout", data={"csrf": csrf[1]})
        assert out.status_code == 303
        assert await status_of(client, f"{live.url}/wallboard") == 303
        for _ in range(5):
            await sign_in(live, client, "wrong password, again")
        throttled = await sign_in(live, client, PASSWORD)
        assert throttled.status_code == 429 and "Too many failed attempts" in throttled.text


async def test_embed_links_open_one_stream_until_they_expire(sim: Simulator) -> None:
    sid, other = sim.add_call(), sim.add_call()
    origins = {"dashboard_embed_origins": INTRANET}
    clock = ManualClock(time.time())
    async with running_app(sim, clock, **origins) as live, live.client(role=None) as client:
        embeds = live.state.access.embeds
        link = (await embeds.mint("call", sid, 3600, "test")).url(live.url)
        page = await client.get(link)
        assert page.status_code == 200
        assert f"frame-ancestors {INTRANET}" in page.headers["content-security-policy"]
        assert "x-frame-options" not in page.headers
        stream_url = re.search(r'hx-sse:connect="([^"]+)"', page.text)
        assert stream_url and "/embed/live/call/call/" in stream_url[1]
        assert await status_of(client, live.url + stream_url[1].replace("&amp;", "&")) == 200
        token = link.split("token=")[1]
        assert await status_of(client, f"{live.url}/embed/calls/{other}?token={token}") == 303
        assert await status_of(client, f"{live.url}/calls/{sid}?token={token}") == 303
        assert await status_of(client, f"{live.url}/api/calls/{sid}/events?token={token}") == 401
        tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
        assert await status_of(client, f"{live.url}/embed/calls/{sid}?token={tampered}") == 303
        expired = (await embeds.mint("call", sid, 1, "test")).token
        clock.now += 2.1  # past the link's one second
        assert await status_of(client, f"{live.url}/embed/calls/{sid}?token={expired}") == 303


async def test_every_response_carries_the_security_headers(sim: Simulator) -> None:
    sid = sim.add_call()
    async with running_app(sim) as live, live.client() as client:
        for path in ("/", f"/calls/{sid}", "/signin", "/static/js/live.js", "/nope"):
            headers = (await client.get(live.url + path)).headers
            csp = headers["content-security-policy"]
            assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
            assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
            assert headers["x-frame-options"] == "DENY"
            assert headers["x-content-type-options"] == "nosniff"
            assert headers["referrer-policy"] == "no-referrer"
            assert "camera=()" in headers["permissions-policy"]
            assert "strict-transport-security" not in headers  # plain HTTP here
        embed = await client.get(f"{live.url}/embed/calls/{sid}")
        assert "frame-ancestors 'none'" in embed.headers["content-security-policy"]


async def test_sso_header_is_trusted_only_from_the_configured_proxies(sim: Simulator) -> None:
    sid = sim.add_call()
    header = {"X-Forwarded-User": "grace", "X-Forwarded-Role": "supervisor"}
    trusted = {
        "dashboard_auth_mode": "sso",
        "dashboard_trusted_proxies": "127.0.0.1",
        "dashboard_sso_role_header_enabled": True,
    }
    async with running_app(sim, **trusted) as live, live.client(role=None) as client:
        assert await status_of(client, f"{live.url}/calls/{sid}", **header) == 200
        assert await status_of(client, f"{live.url}/campaigns/1", **header) == 403
        assert await status_of(client, f"{live.url}/calls/{sid}") == 303
    elsewhere = {"dashboard_auth_mode": "sso", "dashboard_trusted_proxies": "10.9.8.7"}
    async with running_app(sim, **elsewhere) as live, live.client(role=None) as client:
        assert await status_of(client, f"{live.url}/calls/{sid}", **header) == 303


async def test_opening_calls_and_campaigns_is_audited(sim: Simulator) -> None:
    sid, cid = sim.add_call(), sim.add_campaign(name="Q", dialect="C", contacts=2)
    async with running_app(sim) as live, live.client() as client:
        await client.get(f"{live.url}/calls/{sid}")
        await client.get(f"{live.url}/campaigns/{cid}")
        client.headers["Authorization"] = f"Bearer {await live.token(Role.MANAGER)}"
        await status_of(client, f"{live.url}/api/campaigns/{cid}/events")
        entries = await live.state.access.audit.entries(10)
        assert [(e.what, e.via) for e in entries][:3] == [
            (f"campaign:{cid}", "token"),  # on /api/ a bearer token is who is asking
            (f"campaign:{cid}", "page"),
            (f"call:{sid}", "page"),
        ]
        assert entries[0].who.startswith("token:test-manager")
        assert entries[1].who == "test-admin"
        admin = (await client.get(f"{live.url}/admin")).text
        assert f"call:{sid}" in admin
        csv = (await client.get(f"{live.url}/admin/audit.csv")).text
        assert csv.splitlines()[0].startswith("at,who,via,what")
        assert f"campaign:{cid}" in csv


async def test_admins_make_embed_links_from_the_admin_page(sim: Simulator) -> None:
    sid = sim.add_call()
    async with running_app(sim) as live, live.client() as admin:
        page = (await admin.get(f"{live.url}/admin")).text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page)
        assert csrf
        form = {"kind": "call", "ident": sid, "ttl": "1h"}
        refused = await admin.post(f"{live.url}/admin/embed-link", data=form)
        assert refused.status_code == 403  # no CSRF token
        made = await admin.post(f"{live.url}/admin/embed-link", data=form | {"csrf": csrf[1]})
        link = re.search(r'class="embed-link">([^<]+)<', made.text)
        assert made.status_code == 200 and link
        bad = await admin.post(
            f"{live.url}/admin/embed-link", data=form | {"csrf": csrf[1], "ttl": "forever"}
        )
        assert bad.status_code == 400
        async with live.client(role=None) as stranger:
            assert await status_of(stranger, link[1].replace("&amp;", "&")) == 200
        async with live.client(role=Role.MANAGER) as manager:
            refused = await manager.post(f"{live.url}/admin/embed-link", data=form)
            assert refused.status_code == 403

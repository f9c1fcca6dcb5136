from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from webapp.access.secheaders import SecurityHeaders, parse_origins

INTRANET = ["https://intranet.example.com", "http://wiki.corp:8080"]


async def hello(request: Request) -> Response:
    return PlainTextResponse("hi", headers={"X-Frame-Options": "SAMEORIGIN"})


async def stream(request: Request) -> Response:
    async def frames() -> AsyncIterator[bytes]:
        yield b"data: one\n\n"
        yield b"data: two\n\n"

    return StreamingResponse(frames(), media_type="text/event-stream")


async def get(
    path: str,
    frame_ancestors: list[str] | None = None,
    https: bool | None = None,
    base: str = "http://t",
) -> httpx.Response:
    app = Starlette(routes=[Route("/sse", stream), Route("/{path:path}", hello)])
    wrapped = SecurityHeaders(app, frame_ancestors or [], https=https)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(wrapped), base_url=base) as client:
        return await client.get(path)


async def test_every_page_gets_a_strict_policy_and_may_not_be_framed() -> None:
    response = await get("/calls/CA1", INTRANET)
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "object-src 'none'" in csp and "base-uri 'none'" in csp
    assert csp.endswith("frame-ancestors 'none'")
    assert response.headers["x-frame-options"] == "DENY"  # the route's own value is overruled
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "camera=()" in response.headers["permissions-policy"]
    assert response.headers["cross-origin-opener-policy"] == "same-origin"


async def test_embeds_may_be_framed_by_the_configured_origins_only() -> None:
    response = await get("/embed/calls/CA1", INTRANET)
    csp = response.headers["content-security-policy"]
    assert csp.endswith("frame-ancestors https://intranet.example.com http://wiki.corp:8080")
    assert response.headers["x-frame-options"] == "SAMEORIGIN"  # ours is not added on embeds
    assert response.headers["referrer-policy"] == "no-referrer"


async def test_embeds_may_not_be_framed_when_no_origin_is_configured() -> None:
    response = await get("/embed/campaigns/3")
    assert response.headers["content-security-policy"].endswith("frame-ancestors 'none'")


async def test_a_path_that_only_looks_like_an_embed_is_not_one() -> None:
    response = await get("/embedded/calls/CA1", INTRANET)
    assert response.headers["content-security-policy"].endswith("frame-ancestors 'none'")
    assert response.headers["x-frame-options"] == "DENY"


async def test_hsts_only_over_https_unless_forced() -> None:
    assert "strict-transport-security" not in (await get("/")).headers
    over_https = await get("/", base="https://t")
    assert over_https.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
    assert "strict-transport-security" in (await get("/", https=True)).headers
    forced_off = await get("/", https=False, base="https://t")
    assert "strict-transport-security" not in forced_off.headers


async def test_streamed_bodies_pass_through_untouched() -> None:
    response = await get("/sse")
    assert response.text == "data: one\n\ndata: two\n\n"
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["x-frame-options"] == "DENY"


async def test_websockets_and_lifespan_pass_through() -> None:
    seen: list[str] = []

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])

    async def receive() -> Message:
        return {}

    async def send(message: Message) -> None:
        raise AssertionError("nothing is sent")

    middleware = SecurityHeaders(inner)
    await middleware({"type": "websocket", "path": "/ws"}, receive, send)
    await middleware({"type": "lifespan"}, receive, send)
    assert seen == ["websocket", "lifespan"]


def test_parse_origins_normalises_and_dedupes() -> None:
    text = " https://Intranet.Example.com/ , http://wiki.corp:8080,https://intranet.example.com"
    assert parse_origins(text) == INTRANET
    assert parse_origins("https://[fd00::1]:8443") == ["https://[fd00::1]:8443"]
    assert parse_origins("") == [] and parse_origins("none") == []


@pytest.mark.parametrize(
    "text",
    [
        "https://intranet.example.com; script-src *",
        "https://a.example.com https://b.example.com",
        "'unsafe-inline'",
        "https://*.example.com",
        "*",
        "https://intranet.example.com/path",
        "ftp://intranet.example.com",
        "intranet.example.com",
        'https://a.example.com"',
        "https://a.example.com:0",
        "https://a.example.com:99999",
        "https://-bad-.example.com",
        "https://a.example.com,,https://b.example.com",
        "data:",
    ],
)
def test_parse_origins_refuses_anything_that_could_inject_into_the_policy(text: str) -> None:
    with pytest.raises(ValueError, match="is not an origin") as caught:
        parse_origins(text)
    assert "\n" not in str(caught.value)


def test_the_middleware_checks_origins_given_directly() -> None:
    app = Starlette()
    with pytest.raises(ValueError, match="is not an origin"):
        SecurityHeaders(app, ["https://ok.example.com; sandbox"])

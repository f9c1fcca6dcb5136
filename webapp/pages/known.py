"""Ids Burki has: checked before a stream route opens an upstream for them.

A made-up id is cheap to send, and each one a stream opens costs a WebSocket handshake
to Burki with the API key, retried while anyone watches. So before a stream route
opens a stream that is not running yet, each of its ids is checked: one Burki lists
(the directory's ongoing calls and running campaigns) is known at once; any other is
looked up in Burki's REST (concurrent lookups of one id share one call, and a 404 is
remembered for ``DASHBOARD_MISSING_CACHE_SECONDS``, :mod:`webapp.watch.missing`). An
ended call is not listed but is found. A REST that cannot answer (down, the key refused,
no call endpoint on this Burki) does not stop the stream: its upstream finds out, as
before. A Burki without the campaign endpoint has no campaigns (the open-source server,
which refuses their socket with a 403): those are unknown, "this Burki has no campaigns".
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from starlette.requests import HTTPConnection

from webapp.orgs.tenants import Tenant
from webapp.pages.state import app_state
from webapp.wire.rest import NoRoute, NotFound, RestError
from webapp.wire.streamkey import StreamKey


class UnknownId(LookupError):
    """Burki has no call or campaign with this id (404); no upstream is opened for it.

    ``why``: a sentence saying more than "no such id" (this Burki has no campaigns at all).
    Its message is the JSON API's sentence; ``in_page`` the page's, whose URL holds the id.
    """

    def __init__(self, key: StreamKey, why: str | None = None) -> None:
        super().__init__(why or f"Burki has no {key.kind} with the id {key.id}.")
        self.key = key
        self.in_page = why or f"Burki has no {key.kind} with this id."


async def refuse_unknown(conn: HTTPConnection, keys: list[StreamKey]) -> None:
    """Raise :class:`UnknownId` for the first of ``keys`` Burki says it does not have."""
    key = await first_unknown(conn, keys)
    if key is not None:
        raise UnknownId(key, app_state(conn).tenants.get(key.org).missing.why(key))


async def first_unknown(conn: HTTPConnection, keys: list[StreamKey]) -> StreamKey | None:
    """The first of ``keys`` Burki says it does not have; None when it has them all (or
    cannot tell)."""
    state = app_state(conn)
    tenants = {key: state.tenants.get(key.org) for key in keys}  # UnknownOrg: not served
    missing = [key for key, tenant in tenants.items() if key in tenant.missing]
    if missing:
        return missing[0]
    asking = [k for k, t in tenants.items() if k not in state.hub.streams and not _listed(t, k)]
    if not asking:
        return None
    found = await asyncio.gather(*(_exists(tenants[key], key) for key in asking))
    return next((key for key, exists in zip(asking, found, strict=True) if not exists), None)


def _listed(tenant: Tenant, key: StreamKey) -> bool:
    directory = tenant.directory
    if key.kind == "call":
        return any(call.call_sid == key.id for call in directory.calls)
    return any(str(campaign.id) == key.id for campaign in directory.campaigns)


async def _exists(tenant: Tenant, key: StreamKey) -> bool:
    """Whether the stream's own organisation's Burki has it (asked with that one's key)."""
    rest, missing = tenant.rest, tenant.missing
    ask: Callable[[], Awaitable[object]] = (
        (lambda: rest.call(key.id)) if key.kind == "call" else (lambda: rest.campaign(int(key.id)))
    )
    try:
        await missing.lookup(key, ask)
    except NoRoute:
        if key.kind == "campaign":  # no campaign API at all (the open-source Burki): none
            return False  # exists, and its socket would be refused with a 403 (remembered)
        missing.forget(key)  # no such call endpoint: it says nothing about the id
        return True
    except NotFound:
        return False
    except RestError:
        return True  # Burki's REST cannot tell (down, key refused): the upstream will
    return True

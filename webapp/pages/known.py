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

Each organisation's ids are its own (issue 25's isolation rule): an id is listed,
looked up and remembered as missing with the stream key's own organisation (its
directory, its REST client and key, its missing cache). An id that *another*
organisation lists (or streams here) and this one does not is refused at once, with
the same 404 as an id nobody has, and without any request: a user of one organisation
guessing another's ids never makes the dashboard ask Burki about them with its own key,
nor learns that the id exists elsewhere. Only an id nobody knows is looked up in REST.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from starlette.requests import HTTPConnection

from webapp.orgs.tenants import Tenant
from webapp.pages.state import AppState, app_state
from webapp.wire.rest import NoRoute, NotFound, RestError
from webapp.wire.streamkey import StreamKey

T = TypeVar("T")


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
    """Raise :class:`UnknownId` for the first of ``keys`` its organisation does not have
    (``UnknownOrg`` for an organisation this dashboard does not serve)."""
    key = await first_unknown(conn, keys)
    if key is not None:
        raise UnknownId(key, app_state(conn).tenants.get(key.org).missing.why(key))


def refuse_foreign(conn: HTTPConnection, key: StreamKey) -> None:
    """Raise :class:`UnknownId` (the sentence of an id nobody has) when ``key``'s id is
    another organisation's and not its own: before any REST request made for ``key``."""
    if held_elsewhere(app_state(conn), key):
        raise UnknownId(key)


def unless_foreign(
    conn: HTTPConnection, key: StreamKey, ask: Callable[[], Awaitable[T]]
) -> Callable[[], Awaitable[T]]:
    """``ask`` (a REST request about ``key``), or, for another organisation's id, a stand-in
    that fails as Burki fails for an id nobody has (NotFound) without asking: a route that
    answers an unknown id in its own way (a form, a confirm page) answers a foreign one so."""
    if not held_elsewhere(app_state(conn), key):
        return ask

    async def refused() -> T:
        raise NotFound(f"{key.kind} {key.id} does not exist", 404)

    return refused


async def first_unknown(conn: HTTPConnection, keys: list[StreamKey]) -> StreamKey | None:
    """The first of ``keys`` its organisation does not have; None when it has them all
    (or cannot tell). Another organisation's id is refused without asking."""
    state = app_state(conn)
    tenants = [state.tenants.get(key.org) for key in keys]  # UnknownOrg: nothing asked
    for key, tenant in zip(keys, tenants, strict=True):
        if key in tenant.missing or held_elsewhere(state, key):
            return key
    asking = [
        (key, tenant)
        for key, tenant in zip(keys, tenants, strict=True)
        if key not in state.hub.streams and not _listed(tenant, key)
    ]
    if not asking:
        return None
    found = await asyncio.gather(*(_exists(tenant, key) for key, tenant in asking))
    return next((key for (key, _), exists in zip(asking, found, strict=True) if not exists), None)


def held_elsewhere(state: AppState, key: StreamKey) -> bool:
    """Whether another organisation lists ``key``'s id, or streams it here, while
    ``key``'s own organisation does neither."""
    own = state.tenants.find(key.org)
    if own is None or _listed(own, key) or key in state.hub.streams:
        return False
    return any(
        _listed(tenant, key) or StreamKey(key.kind, key.id, tenant.slug) in state.hub.streams
        for tenant in state.tenants
        if tenant.slug != key.org
    )


def _listed(tenant: Tenant, key: StreamKey) -> bool:
    directory = tenant.directory
    if key.kind == "call":
        return any(call.call_sid == key.id for call in directory.calls)
    return any(str(campaign.id) == key.id for campaign in directory.campaigns)


async def _exists(tenant: Tenant, key: StreamKey) -> bool:
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

"""The organisation a route serves, its parts, and the URLs of its streams.

Every route that shows or acts on streams exists twice (``webapp.app``): unprefixed for
the default organisation and under ``/o/{org}`` for any other, with the same name. A
handler builds its :class:`StreamKey` with :func:`route_key` (the route's organisation)
and reads that organisation's REST, directory and missing ids with :func:`tenant_of`; a
URL to a stream is made with :func:`path_for` (a route by name) or
:func:`~webapp.wire.streamkey.page_path`, so a page of one organisation never links to
another's stream under its own prefix.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import HTTPConnection, Request

from webapp.access.routes import route_org
from webapp.orgs.tenants import Tenant
from webapp.pages.state import app_state
from webapp.wire.streamkey import DEFAULT_ORG, StreamKey


def org_of(conn: HTTPConnection) -> str:
    """The organisation the request's route serves (its ``/o/{org}``, else the default)."""
    return route_org(conn.path_params)


def route_key(conn: HTTPConnection, kind: str, ident: str) -> StreamKey:
    """The stream ``kind`` ``ident`` of the route's organisation (BadStreamId: no such id)."""
    return StreamKey.of(kind, ident, org_of(conn))


def tenant_of(conn: HTTPConnection, key: StreamKey) -> Tenant:
    """The parts of the stream's organisation; UnknownOrg (404) when there is none."""
    return app_state(conn).tenants.get(key.org)


def path_for(request: Request, name: str, org: str, **params: Any) -> str:
    """The path of route ``name`` as organisation ``org`` serves it."""
    scoped = params if org == DEFAULT_ORG else params | {"org": org}
    return request.url_for(name, **scoped).path

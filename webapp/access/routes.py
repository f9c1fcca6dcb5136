"""What each route needs, declared on the route itself, never guessed from words in its path.

A :class:`GuardedRoute` is a Starlette route that carries a :class:`Guard`:
the role it needs (fixed, or computed from its path parameters and query, as
for the live update route whose ``{kind}`` names the stream) and whether it is
a stream (capped, re-checked while open). The auth gate finds the route a
request will reach with the router's own matching, so ``/live/call/campaign/1``
needs what a campaign needs, whatever words its path holds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args
from urllib.parse import parse_qs

from starlette.routing import Match, Mount, Route
from starlette.types import Scope

from webapp.access.csrf import csrf_checked
from webapp.wire.streamkey import DEFAULT_ORG

ORG_PREFIX = "/o/"  # every organisation but the default one: the same paths under /o/{org}

Need = Literal["public", "signed_in", "call", "campaign", "both", "admin"]
NeedOf = Callable[[Mapping[str, Any], str], Need]
CountOf = Callable[[Mapping[str, Any], str], int]
# What the audit log gets from a route that lets the request in (refusals are the gate's):
# "each": an entry per request (actions, exports, sign-ins and sign-outs);
# "viewing": an entry per opening of call or campaign content, resumes within ten minutes
#   folded into it; "once": an entry per session (token, embed link) and page, however often
#   it is reloaded or its stream reconnects; "none": nothing to record (it shows nobody's data).
Audit = Literal["each", "viewing", "once", "none"]
AUDITS: frozenset[str] = frozenset(get_args(Audit))


@dataclass(frozen=True, slots=True)
class OrgNeed:
    """What a request needs in one organisation. ``named``: the request names it (its path's
    ``/o/{org}``, a multiplexed value's prefix), so a principal with no role there is told
    it does not exist, whatever the need."""

    org: str
    need: Need
    named: bool = False


OrgsOf = Callable[[Mapping[str, Any], str], list[OrgNeed]]


@dataclass(frozen=True, slots=True)
class Guard:
    need: Need | NeedOf
    stream: bool = False  # an SSE response: counted against the caps, re-checked while open
    # How many streams a request opens (each may be an upstream to Burki); None: one.
    streams: CountOf | None = None
    # What a request needs in each organisation it names; None: ``need`` in the route's
    # (the multiplexed API's streams, counted by ``streams_named``, name theirs in the query).
    orgs: OrgsOf | None = None

    def need_for(self, params: Mapping[str, Any], query: str) -> Need:
        return self.need if isinstance(self.need, str) else self.need(params, query)

    def orgs_for(self, params: Mapping[str, Any], query: str) -> list[OrgNeed]:
        if self.orgs is not None:
            return self.orgs(params, query)
        if self.streams is streams_named:  # the multiplexed API, however its route is written
            return orgs_in_query(params, query)
        named = "org" in params
        return [OrgNeed(route_org(params), self.need_for(params, query), named)]

    def streams_for(self, params: Mapping[str, Any], query: str) -> int:
        return 1 if self.streams is None else max(1, self.streams(params, query))


PUBLIC = Guard("public")
SIGNED_IN = Guard("signed_in")


class GuardedRoute(Route):
    """A route with its guard and its audit decision; every route of the app is one (static
    files are public and unaudited).

    ``form``: the route reads a form body (up to ``DASHBOARD_MAX_FORM_BYTES``); by default
    a route that accepts POST does. Every other route takes no body
    (:mod:`webapp.access.bodylimit`). A route that reads a form changes state: its
    endpoint runs only after the CSRF guard (:mod:`webapp.access.csrf`).
    """

    def __init__(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        guard: Guard,
        audit: Audit,
        form: bool | None = None,
        **kw: Any,
    ) -> None:
        if audit not in AUDITS:
            raise ValueError(f"audit is one of {', '.join(sorted(AUDITS))}")
        methods = {method.upper() for method in kw.get("methods") or ()}
        reads_form = "POST" in methods if form is None else form
        super().__init__(path, csrf_checked(endpoint) if reads_form else endpoint, **kw)
        self.guard = guard
        self.audit = audit
        self.form = reads_form


def route_org(params: Mapping[str, Any]) -> str:
    """The organisation a route's path names: ``/o/{org}/...``; unprefixed, the default one.
    Unchecked: whether it exists, and whether the principal may see it, is the gate's."""
    org = params.get("org", DEFAULT_ORG)
    return org if isinstance(org, str) else DEFAULT_ORG


def split_org(path: str) -> tuple[str | None, str]:
    """``/o/acme/api/events`` -> ``("acme", "/api/events")``; an unprefixed path ->
    ``(None, path)``. Unchecked, as :func:`route_org`."""
    if not path.startswith(ORG_PREFIX):
        return None, path
    org, slash, rest = path[len(ORG_PREFIX) :].partition("/")
    return org, "/" + rest if slash else "/"


def value_org(value: str, default: str) -> str:
    """The organisation a multiplexed ``call=``/``campaign=`` value names: its prefix
    (``acme/CA1``; ids hold no ``/``), else ``default`` (the route's)."""
    head, slash, _ = value.partition("/")
    return head if slash else default


def orgs_in_query(params: Mapping[str, Any], query: str) -> list[OrgNeed]:
    """The multiplexed API: the route's organisation (named if its path names it), and every
    one its values name, each needing what its own streams need."""
    home = route_org(params)
    kinds: dict[str, set[str]] = {home: set()}
    named = {home} if "org" in params else set()
    for kind, values in parse_qs(query).items():
        if kind not in ("call", "campaign"):
            continue
        for value in values:
            org = value_org(value, home)
            kinds.setdefault(org, set()).add(kind)
            if org != home or "/" in value:
                named.add(org)
    return [OrgNeed(org, _need_of(found), org in named) for org, found in kinds.items()]


def _need_of(kinds: set[str]) -> Need:
    if kinds == {"call", "campaign"}:
        return "both"
    return "call" if kinds == {"call"} else "campaign" if kinds else "signed_in"


def local_path(path: str) -> str:
    """``path`` without its organisation's prefix (``/o/acme/api/events`` -> ``/api/events``):
    what a check of the path's kind of route (the JSON API, an embed) reads, whichever
    organisation serves it."""
    return split_org(path)[1]


def kind_param(params: Mapping[str, Any], query: str) -> Need:
    """The need of a route whose ``{kind}`` path parameter names the stream."""
    kind = params.get("kind")
    return "call" if kind == "call" else "campaign" if kind == "campaign" else "both"


def streams_in_query(params: Mapping[str, Any], query: str) -> Need:
    """The multiplexed API: whatever its ``call=`` and ``campaign=`` streams need."""
    named = parse_qs(query)
    if "call" in named and "campaign" in named:
        return "both"
    return "campaign" if "campaign" in named else "call" if "call" in named else "signed_in"


def streams_named(params: Mapping[str, Any], query: str) -> int:
    """The multiplexed API: how many different streams its ``call=`` and ``campaign=`` name."""
    named = parse_qs(query)
    return len(set(named.get("call", []))) + len(set(named.get("campaign", [])))


def guard_of(scope: Scope) -> tuple[Guard, Mapping[str, Any]]:
    """The guard of the route this request reaches, and its path parameters.

    A path no route matches needs a signed-in person (strangers learn nothing,
    not even which paths exist); a mount (static files) is public.
    """
    app = scope.get("app")
    routes = getattr(getattr(app, "router", None), "routes", [])
    partial: tuple[Guard, Mapping[str, Any]] | None = None
    for route in routes:
        match, child = route.matches(scope)
        if match is Match.NONE:
            continue
        params = child.get("path_params", {})
        guard = route.guard if isinstance(route, GuardedRoute) else None
        if guard is None:
            guard = PUBLIC if isinstance(route, Mount) else SIGNED_IN
        if match is Match.FULL:
            return guard, params
        partial = partial or (guard, params)  # the path matches, the method does not
    return partial or (SIGNED_IN, {})


def opened_org(scope: Scope) -> str:
    """The organisation of what a request opens, for its audit entry: the one its path names,
    the default one for an unprefixed route that opens calls or campaigns, '' for none (the
    admin page, signing in and out)."""
    guard, params = guard_of(scope)
    if "org" in params:
        return route_org(params)
    opens = guard.need if isinstance(guard.need, str) else "both"
    return DEFAULT_ORG if opens in ("call", "campaign", "both") else ""


def takes_form(scope: Scope) -> bool:
    """Whether the route this request reaches (method and path) reads a form body."""
    app = scope.get("app")
    for route in getattr(getattr(app, "router", None), "routes", []):
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return isinstance(route, GuardedRoute) and route.form
    return False

"""A response whose body outlives the middleware stack that let it start.

An SSE viewer is held for hours, and with thousands of them what one holds is the
cost of the product. Served the ordinary way, every layer of the stack (forwarded
headers, security headers, the session, the error map, the body limit, the auth gate,
the router, the route) keeps a suspended frame, its closures and its request objects
alive for as long as the body runs: about half of what an idle viewer costs.

None of those layers acts on a body: each decides whether the request is let in (the
checks, the audit, the caps), and what its response start carries (the security
headers, the session cookie). So a stream response goes through the whole stack, each
check and header exactly as for any other response, up to its ``http.response.start``;
then it hands its body to :class:`Held` and returns, the stack unwinds, and the app's
own frame (:class:`webapp.app.DashboardApp`) serves the body, with the server's
``send``. A layer that owns something for as long as the response lasts (the gate's
place under the caps, its re-check timer) hands its release to :meth:`Held.after`
instead of releasing it when its frame returns.

Ownership: the app creates one :class:`Held` per HTTP request and calls :meth:`serve`
once the stack returned; :meth:`serve` runs every ``after`` (last registered first),
however the body ends.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.types import Scope, Send

HELD = "burki.held"  # the scope key of the request's Held (set by the app, for HTTP only)

Body = Callable[[], Awaitable[None]]
After = Callable[[], Awaitable[None]]


class Held:
    """The body one request's response left to be served after the stack, and what must
    run once it is over."""

    __slots__ = ("_after", "body", "send")

    def __init__(self, send: Send) -> None:
        self.send = send  # the server's own: body messages need none of the stack's wrappers
        self.body: Body | None = None
        self._after: list[After] = []

    def hold(self, body: Body) -> None:
        """Serve ``body`` once the stack has returned (its response start is out)."""
        if self.body is not None:
            raise RuntimeError("a response holds its body once")
        self.body = body

    def after(self, cleanup: After) -> None:
        """Run ``cleanup`` once the held body is over (the last registered runs first)."""
        self._after.append(cleanup)

    async def serve(self) -> None:
        """Serve the held body (if any), then every ``after``, whatever happened."""
        body, self.body = self.body, None
        try:
            if body is not None:
                await body()
        finally:
            afters, self._after = self._after, []
            while afters:
                await afters.pop()()


def held_of(scope: Scope) -> Held | None:
    """The request's :class:`Held`, if its app serves held bodies."""
    found = scope.get(HELD)
    return found if isinstance(found, Held) else None

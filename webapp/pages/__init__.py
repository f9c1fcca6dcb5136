"""Pages: what people (and machine clients) see.

The HTML pages and their live update streams, the wallboard, the overview (over
``watch``'s directory of ongoing calls), exports, error pages, sign-in and admin,
and the JSON SSE API routes. The top room below the wiring: it may import the
relay, the wire, access, alerts and watch; only the root modules (``app``,
``parts``, ``probes``, ``server``) import it.
"""

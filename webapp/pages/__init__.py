"""Pages: what people (and machine clients) see.

The HTML pages and the routes of their live update streams, the wallboard, the
overview (over ``watch``'s directory of ongoing calls), exports, error pages,
sign-in and admin, and the JSON SSE API routes (how the frames are written is
``delivery``). The top room below the wiring: it may import delivery, the relay,
the wire, access, alerts and watch; only the root modules (``app``, ``parts``,
``probes``, ``server``) import it.
"""

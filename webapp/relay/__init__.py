"""The relay: one upstream to many viewers.

A stream per call or campaign holds the state, dedupes Burki's replays, numbers
each change in a bounded replay log and renders it once; each viewer reads the
same bytes from a bounded queue (``webapp.delivery`` writes them to the sockets).
It imports the wire, never delivery, the pages, access or alerts: what it needs
from those (a page view to render, alerts to raise) it names as small Protocols
that the upper rooms satisfy.
"""

"""What the dashboard watches on its own, with no page open: the monitor of every listed call.

May import ``relay``, ``calls``, ``wire`` and ``alerts``; the directory of listed calls (still
in ``webapp.pages.directory`` until it moves here) is reached through a small Protocol.
"""

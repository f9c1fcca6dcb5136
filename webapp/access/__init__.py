"""Access: who may watch.

Users, API tokens, embed links, sessions and the ASGI gate that resolves a
principal on every request; the sign-in throttle, the audit log and the security
headers. Beside the pages: it may import the wire (stream keys) and the store,
never the relay, the pages or alerts (``tests/test_layout.py`` holds it to that).
"""

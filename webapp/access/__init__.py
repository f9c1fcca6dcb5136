"""Access: who may watch.

Users, API tokens, embed links, sessions and the ASGI gate that resolves a
principal on every request; the sign-in throttle, the audit log and the security
headers. Beside the pages: it may import the wire (stream keys), never the
relay's internals, the pages or alerts.
"""

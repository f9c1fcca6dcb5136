"""The wire: everything that speaks Burki, and nothing else.

The upstream WebSocket client, the REST client, the normaliser that turns every
dialect into one typed event vocabulary, the failure classifier and the backoff
schedule. It is the bottom room: it imports only the standard library, its own
modules and third-party packages; never the relay, the pages, access or alerts.
"""

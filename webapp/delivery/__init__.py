"""Delivery: how frames reach a viewer.

The SSE response and its direct path to the socket, the viewer loop from a
subscriber to the response's chunks, the multiplex cursor, the HTML-SSE
encoding of page streams, and the HTTP/1.1 framing under them (uvicorn's h11
protocol, extended: head and body deadlines, a share of connections per client).
Below the pages: it may import the relay, calls, the wire and access; the relay
never imports it (it hands frames to a subscriber and knows nothing of sockets).
"""

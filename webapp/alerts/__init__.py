"""Alerts: what raises a hand.

Sentiment and keyword alerts on a call's transcript, and the routes that carry
them out: one dispatcher (``webhooks``) of queues and retries, and one
``Channel`` per way out (``signed``, ``slack``, ``teams``, ``mail``). Beside the
pages: it may import the relay (changes and frames) and the wire (events),
never the pages or access.
"""

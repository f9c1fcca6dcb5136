"""Alerts: what raises a hand.

Sentiment and keyword alerts on a call's transcript, and the signed webhooks
that carry them out. Beside the pages: it may import the relay (changes and
frames) and the wire (events), never the pages or access.
"""

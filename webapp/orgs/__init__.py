"""Burki organisations: who they are, their keys at rest, and each one's running parts.

One dashboard serves several Burki organisations (an agency's clients, a company's
brands or regions, a staging and a production account), each with its own key.
``model`` names an organisation; ``tenants`` holds each one's REST client, sources,
directory, missing-id cache and monitor, and hands the hub the right organisation's
sources for a stream, so a key is only ever used for its own organisation.

May import: wire, store, calls, relay, alerts, watch (it wires each organisation's
directory and monitor). Imported by cluster-free rooms above it: pages and the root.
"""

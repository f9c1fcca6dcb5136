"""What a call and a campaign are, and what is derived from them: state, health, claims,
redaction, the attention score's inputs.

Pure: no sockets, no tasks, no timers. Each stream's features are one pipeline
(:mod:`webapp.calls.pipeline`) fed the stream's inputs in order, which answers each
with the changes its viewers must see. May import ``webapp.wire`` only: the relay
above runs the pipeline, numbers its changes and sends them.
"""

"""Which node monitors which stream: alone, this one; in a cluster, as the leases say.

A :class:`Placement` answers one :class:`Survey` per look of the monitor: who holds each
listed stream's lease, which streams Burki refused (left alone by every node), how many
nodes monitor, and how many streams each holds. The cluster's (``webapp.cluster.monitoring``)
reads Redis; :class:`Alone` knows it all already.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from webapp.wire.streamkey import StreamKey


@dataclass(frozen=True, slots=True)
class Survey:
    holders: dict[StreamKey, str] = field(default_factory=dict)  # lease holder, if any, by key
    refused: frozenset[StreamKey] = frozenset()  # Burki refused them: no node opens them
    nodes: int = 1  # nodes monitoring now (this one included)
    counts: dict[str, int] = field(default_factory=dict)  # streams each node monitors


class Placement(Protocol):
    @property
    def node(self) -> str: ...
    @property
    def recheck(self) -> float: ...
    async def survey(self, keys: Sequence[StreamKey], holding: int) -> Survey: ...
    async def refuse(self, key: StreamKey) -> None: ...


@dataclass(frozen=True, slots=True)
class Alone:
    """One process: it monitors every listed stream, up to the cap."""

    node: str = "this node"
    recheck: float = 2.0  # seconds between looks at the held streams (ended, refused)

    async def survey(self, keys: Sequence[StreamKey], holding: int) -> Survey:
        return Survey(counts={self.node: holding})

    async def refuse(self, key: StreamKey) -> None:
        return None

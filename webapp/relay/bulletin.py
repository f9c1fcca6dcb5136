"""What the streams and the lists (overview, wallboard) share, below both.

A stream posts here the alerts it raises and that a call went quiet or woke up; the
directory (a REST poller of Burki's lists) posts the assistant names its lists give by
call SID, which a stream shows for a call whose own stream carries only an id. Each
post a list shows is offered to the lists' watchers as a ``directory`` frame ("something
changed": a watcher reads the lists again). The relay never calls up into the pages:
they read and watch this.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from typing import Any

from webapp.relay.frames import render
from webapp.relay.subscriber import Subscriber
from webapp.wire.streamkey import DEFAULT_ORG, StreamKey

MAX_ALERTS = 50
MAX_ASSISTANTS = 4096  # assistant names kept by call SID (cards name the assistant by them)


class Bulletin:
    def __init__(self) -> None:
        self.alerts: deque[dict[str, Any]] = deque(maxlen=MAX_ALERTS)  # newest first
        self.watchers: set[Subscriber] = set()
        # (organisation, call SID) -> assistant name: one call id may be two organisations' calls
        self._assistants: OrderedDict[tuple[str, str], str] = OrderedDict()

    def alert(self, stream: StreamKey, alert: dict[str, Any]) -> None:
        """An alert raised on a stream: listed on the overview, newest first, once.

        A stream retired and opened again derives its alerts afresh from Burki's replay,
        under the same ids (as the webhooks, which post each once): already listed."""
        ident = alert.get("id")
        if ident is not None and any(
            a["stream"] == stream and a.get("id") == ident for a in self.alerts
        ):
            return
        self.alerts.appendleft({"stream": stream, "ident": stream.id, **alert})
        self.tell()

    def tell(self) -> None:
        """Something the lists show changed: every watcher reads them again."""
        frame = render("", "directory", {})
        for sub in list(self.watchers):
            if not sub.offer(frame):
                self.watchers.discard(sub)

    def name_assistant(self, call_sid: str, name: str, org: str = DEFAULT_ORG) -> None:
        """The assistant ``org``'s call list names for a call (kept after it left the list)."""
        self._assistants[org, call_sid] = name
        self._assistants.move_to_end((org, call_sid))
        while len(self._assistants) > MAX_ASSISTANTS:
            self._assistants.popitem(last=False)

    def assistant_for(self, call_sid: str, org: str = DEFAULT_ORG) -> str | None:
        return self._assistants.get((org, call_sid))

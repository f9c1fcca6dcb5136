"""Why an upstream connection ended, and what to do about it: classified once, here.

Pure: :func:`classify` reads the facts of one ended connection (an
:class:`Ending`) and returns a :class:`Failure` that says whether to retry, how
long to wait at least, and a sentence a supervisor can read.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from webapp.wire.events import UpstreamError

GOING_AWAY = 1001
POLICY_VIOLATION = 1008
INTERNAL_ERROR = 1011
SERVICE_RESTART = 1012

NOT_FOUND_FLOOR = 30.0
RATE_LIMIT_FLOOR = 30.0
AUTH_FLOOR = 60.0  # at most one attempt a minute after Burki refused the key


class FailureKind(StrEnum):
    AUTH = "auth"
    ACCESS_DENIED = "access_denied"
    NOT_FOUND = "not_found"
    RATE_LIMITED = "rate_limited"
    HEADER_REJECTED = "header_rejected"
    TRANSIENT = "transient"


@dataclass(frozen=True, slots=True)
class Ending:
    """The facts of one connection attempt that ended.

    ``close_code`` is None when no close frame arrived (a dropped TCP
    connection, 1006). ``established`` is true once Burki sent anything but an
    error. ``error`` is the last ``error`` frame Burki sent, if any.
    """

    established: bool = False
    close_code: int | None = None
    close_reason: str = ""
    error: UpstreamError | None = None
    handshake_status: int | None = None
    exception: str | None = None
    pong_missed: float | None = None  # the JSON ping's deadline (s) that passed unanswered


@dataclass(frozen=True, slots=True)
class Failure:
    """What to do after an ending: give up (``fatal``), wait at least ``floor`` s, or
    come back ``prompt``-ly (a restart: within a second or two, whatever the backoff)."""

    kind: FailureKind
    message: str
    fatal: bool = False
    floor: float = 0.0
    prompt: bool = False


def classify(
    ending: Ending, *, header_auth: bool = False, auth_retry: float = AUTH_FLOOR
) -> Failure:
    """Classify an ended connection. ``header_auth``: the key went in a header or subprotocol.

    Access denied is fatal. An authentication refusal is not always permanent (the
    open-source server refuses a valid key while its database is down): it is
    retried at most every ``auth_retry`` s (``BURKI_AUTH_RETRY``), never in a loop, and
    its message says that interval. A restart (1012, 1001) is
    retried promptly. A 1011 before anything was established while the key went
    in a header is the open-source server failing to read headers: the caller
    should retry at once with ``?token=``.
    """
    failure = (
        _from_error_frame(ending.error)
        or _from_handshake(ending.handshake_status)
        or _from_close(ending, header_auth)
        or _transient(ending)
    )
    if failure.kind is FailureKind.AUTH and auth_retry != AUTH_FLOOR:
        failure = auth_refused(failure.message.partition(AUTH_TAIL)[0], auth_retry)
    return failure


def _from_error_frame(error: UpstreamError | None) -> Failure | None:
    if error is None:
        return None
    match error.code:
        case "authentication_failed":
            return auth_refused("Burki rejected the API key.")
        case "access_denied":
            return Failure(
                FailureKind.ACCESS_DENIED,
                "Burki denied access: this key's organisation cannot see it.",
                fatal=True,
            )
        case "not_found":
            return not_found()
        case "rate_limited":
            return _rate_limited()
    return None


def _from_handshake(status: int | None) -> Failure | None:
    if status is None:
        return None
    if status in (401, 403):
        return auth_refused(f"Burki refused the connection ({status}).")
    if status == 404:
        return not_found()
    if status == 429:
        return _rate_limited()
    return Failure(FailureKind.TRANSIENT, f"Burki answered the connection with HTTP {status}.")


def _from_close(ending: Ending, header_auth: bool) -> Failure | None:
    reason = ending.close_reason.lower()
    if ending.close_code == POLICY_VIOLATION:
        if "rate" in reason or "too many" in reason:
            return _rate_limited()
        if "access" in reason:
            return Failure(FailureKind.ACCESS_DENIED, "Burki denied access.", fatal=True)
        return auth_refused("Burki closed the connection: authentication failed.")
    if ending.close_code in (SERVICE_RESTART, GOING_AWAY):
        return Failure(
            FailureKind.TRANSIENT, "Burki is restarting; reconnecting at once.", prompt=True
        )
    if ending.close_code == INTERNAL_ERROR and header_auth and not ending.established:
        return Failure(FailureKind.HEADER_REJECTED, "Burki could not read the key from the header.")
    return None


AUTH_TAIL = " The key may be wrong"


def auth_refused(what: str, every: float = AUTH_FLOOR) -> Failure:
    """Burki refused the key: maybe revoked, maybe Burki's database is down. Retried
    every ``every`` seconds at most, which the message says."""
    return Failure(
        FailureKind.AUTH,
        f"{what}{AUTH_TAIL} or Burki may be having trouble; trying again {interval(every)}.",
        floor=every,
    )


def interval(seconds: float) -> str:
    """How often, in words: ``once a minute``, ``every 5 s``, ``every 2 minutes``."""
    if seconds == 60:
        return "once a minute"
    if seconds >= 120 and seconds % 60 == 0:
        return f"every {seconds / 60:g} minutes"
    return f"every {seconds:g} s"


def not_found() -> Failure:
    return Failure(
        FailureKind.NOT_FOUND,
        "Burki has no call or campaign with this id (yet); checking again slowly.",
        floor=NOT_FOUND_FLOOR,
    )


def refused_missing(what: str) -> Failure:
    """The socket was refused (403) and REST does not know the ``what`` (call or campaign)
    either: the open-source server, which has no campaigns, refuses their socket so. Not
    retried: it is no key problem, and asking again changes nothing."""
    maybe = " (this Burki may have no campaigns)" if what == "campaign" else ""
    return Failure(FailureKind.NOT_FOUND, f"Burki has no {what} with this id{maybe}.", fatal=True)


def _rate_limited() -> Failure:
    return Failure(
        FailureKind.RATE_LIMITED,
        "Burki is limiting connections (too many viewers or requests).",
        floor=RATE_LIMIT_FLOOR,
    )


def _transient(ending: Ending) -> Failure:
    if ending.pong_missed is not None:
        return Failure(
            FailureKind.TRANSIENT,
            f"Burki stopped answering on this connection (no pong within "
            f"{ending.pong_missed:g} s); reconnecting.",
        )
    if ending.exception is not None:
        return Failure(FailureKind.TRANSIENT, f"Could not reach Burki ({ending.exception}).")
    if ending.close_code is None:
        return Failure(FailureKind.TRANSIENT, "The connection to Burki dropped.")
    return Failure(
        FailureKind.TRANSIENT, f"Burki closed the connection (code {ending.close_code})."
    )

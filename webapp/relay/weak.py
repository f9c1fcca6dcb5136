"""A bound method that does not keep its object alive: for the callbacks a stream hands its parts.

A stream owns its parts; two of them call back into it: the coalescer (which emits a
held progress change when its interval is over) and the timed inputs its alarms decide
(which feed the stream). Bound
methods would make every stream a knot of reference cycles: reference counting
could never free a retired stream, and its replay log, state and parts would
wait for the cycle detector (for minutes, when the server freezes long-lived
objects: see ``webapp/collector.py``). Its parts call back through :func:`weakly`
instead: the owner holds its parts, the parts do not hold their owner.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


def weakly(method: Callable[P, R]) -> Callable[P, R]:
    """``method`` (bound), holding its object by a weak reference.

    Calling it once the object is gone raises :class:`ReferenceError`: a part
    that outlives its owner is a bug (the owner's ``close`` stops its parts).
    """
    ref = weakref.WeakMethod(method)
    name = getattr(method, "__qualname__", "a method")

    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        bound = ref()
        if bound is None:
            raise ReferenceError(f"{name}: its object is gone")
        return bound(*args, **kwargs)

    return call

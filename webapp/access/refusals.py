"""What the gate refuses, as exceptions: the gate raises them, the error map answers them.

Each carries the sentence its answer shows; what it means over HTTP (status,
JSON code, page or redirect) is decided in one place, ``webapp.pages.errorpages``.
A stream over its caps raises :class:`~webapp.access.caps.CapReached`, a form
without its token :class:`~webapp.access.csrf.CsrfRefused`.
"""

from __future__ import annotations


class SignInNeeded(Exception):
    """Nobody is signed in (401; a person is sent to sign in and brought back to ``target``)."""

    def __init__(self, target: str) -> None:
        super().__init__("Sign in, or send an API token.")
        self.target = target  # the path and query asked for


class Forbidden(Exception):
    """The principal's role may not open this (403)."""


class NoSuchOrg(Exception):
    """The request names an organisation the principal has no role in (404): the very answer
    an organisation that does not exist gets, so nobody learns that another one exists."""

    def __init__(self, org: str = "") -> None:
        super().__init__("No such organisation.")
        self.org = org  # the slug asked for: the audit log's, never the answer's


class BadStreams(Exception):
    """A request names too few or too many streams (400)."""

    def __init__(self, most: int) -> None:
        super().__init__(f"name 1 to {most} streams")

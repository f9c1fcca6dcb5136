"""Claims of a call: one holder, take-over named, release by the holder or an admin, end clears."""

from __future__ import annotations

import pytest

from webapp.calls.claims import ClaimRefused, Claims

AT = "2027-01-15T08:00:00Z"


def test_a_claim_names_its_holder_and_a_take_over_names_whom_it_was_taken_from() -> None:
    claims = Claims()
    first = claims.act("claim", "ada", AT)
    assert first is not None and first.type == "claim"
    assert first.data["claim"] == {"by": "ada", "kind": "claim", "at": AT}
    assert claims.act("claim", "ada", AT) is None  # nothing changed: no event
    taken = claims.act("claim", "bob", AT)
    assert taken is not None and taken.data["took_over_from"] == "ada"
    assert claims.snapshot() == {"by": "bob", "kind": "claim", "at": AT}


def test_an_acknowledgement_does_not_replace_someone_elses_claim() -> None:
    claims = Claims()
    claims.act("claim", "ada", AT)
    with pytest.raises(ClaimRefused, match="ada is already on it"):
        claims.act("ack", "bob", AT)
    acked = Claims()
    acked.act("ack", "bob", AT)
    change = acked.act("claim", "ada", AT)  # a claim may follow an acknowledgement
    assert change is not None and acked.snapshot() == {"by": "ada", "kind": "claim", "at": AT}


def test_only_the_holder_or_an_admin_releases() -> None:
    claims = Claims()
    claims.act("claim", "ada", AT)
    with pytest.raises(ClaimRefused, match="Only ada"):
        claims.act("release", "bob", AT)
    released = claims.act("release", "root", AT, admin=True)
    assert released is not None and released.data == {
        "claim": None,
        "released_by": "root",
        "at": AT,
    }
    assert claims.act("release", "ada", AT) is None


def test_the_end_of_the_call_clears_the_claim_and_refuses_new_ones() -> None:
    claims = Claims()
    claims.act("claim", "ada", AT)
    cleared = claims.end(AT)
    assert cleared is not None and cleared.data["reason"] == "call ended"
    assert claims.snapshot() is None
    with pytest.raises(ClaimRefused, match="ended"):
        claims.act("claim", "bob", AT)
    assert Claims().end(AT) is None  # nothing to clear: no event

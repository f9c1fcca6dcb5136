"""Call ids in HTML: safe element ids, encoded links, status words people read."""

from __future__ import annotations

import re

from webapp.pages.templating import dom_id, status_word

IDS = ["CA" + "a" * 32, "v3:AbC_-x.y~z", "v3_3aAbC", "3fa85f64-5717-4562-b3fc-2c963f66afa6"]


def test_every_call_id_makes_a_distinct_id_that_is_a_plain_css_selector() -> None:
    made = [dom_id(ident) for ident in IDS]
    assert len(set(made)) == len(made)  # "v3:" and a literal "v3_3a" do not collide
    assert all(re.fullmatch(r"[A-Za-z0-9_-]+", ident) for ident in made)
    assert dom_id(IDS[0]) == IDS[0]  # a Twilio SID reads as itself


def test_burki_s_words_for_a_live_call_read_as_one() -> None:
    assert status_word("in-progress") == "in progress"
    assert status_word("completed") == "completed"
    assert status_word(None) == ""

"""The Alerts CSV: every field in its column, and no cell a spreadsheet would run."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from webapp.pages.history import to_csv
from webapp.store.records import AlertRecord

AT = datetime(2026, 12, 7, 1, 30, tzinfo=UTC)


def test_a_cell_that_would_run_as_a_formula_is_defused() -> None:
    alert = AlertRecord(
        "CA1",
        "keyword-1",
        AT,
        "keyword",
        "high",
        '=HYPERLINK("http://evil","x")',
        "+1 555 call me, or @you",
        assistant="-bot",
        handled_by="@alice",
        handled_how="ack",
        handled_at=AT,
    )
    (row,) = list(csv.DictReader(io.StringIO(to_csv([alert]))))
    assert row["message"] == '\'=HYPERLINK("http://evil","x")'
    assert row["excerpt"] == "'+1 555 call me, or @you"
    assert (row["assistant"], row["handled_by"]) == ("'-bot", "'@alice")
    assert (row["at"], row["handled_at"]) == ("2026-12-07T01:30:00Z", "2026-12-07T01:30:00Z")
    assert row["call_id"] == "CA1" and row["handled_how"] == "ack"


def test_an_unhandled_alert_has_empty_handled_cells() -> None:
    alert = AlertRecord("CA1", "k", AT, "keyword", "low", "said cancel", "cancel it")
    (row,) = list(csv.DictReader(io.StringIO(to_csv([alert]))))
    assert (row["handled_by"], row["handled_how"], row["handled_at"]) == ("", "", "")

"""SSE messages that carry HTML for htmx: unnamed, one data line per line, never broken."""

from __future__ import annotations

from webapp.delivery import htmlsse


def test_html_becomes_one_unnamed_message_with_a_data_line_per_line() -> None:
    assert htmlsse.message("<p>a</p>\r\n<p>b</p>\r<p>c</p>\n") == (
        b"data: <p>a</p>\ndata: <p>b</p>\ndata: <p>c</p>\n\n"
    )
    assert htmlsse.message("") == b"data: \n\n"


def test_no_line_break_in_the_html_can_end_the_message_early() -> None:
    message = htmlsse.message("<p>one\n\nevent: end\ndata: x</p>")
    assert message.count(b"\n\n") == 1 and message.endswith(b"\n\n")
    assert all(line.startswith(b"data: ") for line in message.split(b"\n") if line)


def test_an_id_line_goes_before_the_message_and_control_messages_are_named() -> None:
    assert htmlsse.with_id("e-3", b"data: x\n\n") == b"id: e-3\ndata: x\n\n"
    assert htmlsse.END == b"event: end\ndata: \n\n"
    assert htmlsse.HEARTBEAT.startswith(b"event: heartbeat\n")


def test_a_partial_names_its_target_and_swap() -> None:
    assert htmlsse.partial("#conn", "outerHTML", "<b>x</b>") == (
        '<hx-partial hx-target="#conn" hx-swap="outerHTML"><b>x</b></hx-partial>'
    )

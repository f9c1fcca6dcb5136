from __future__ import annotations

import time

import pytest

from webapp.alerts.keywords import KeywordMatcher, KeywordRule, parse_rules

SETTING = "cancel my account:high, lawyer:high, speak to a manager:medium, refund:low@any"


def phrases(rules: list[KeywordRule]) -> list[str]:
    return [rule.phrase for rule in rules]


def test_the_setting_format_gives_phrase_severity_and_speaker() -> None:
    assert parse_rules(SETTING) == [
        KeywordRule("cancel my account", "high", "user"),
        KeywordRule("lawyer", "high", "user"),
        KeywordRule("speak to a manager", "medium", "user"),
        KeywordRule("refund", "low", "any"),
    ]


def test_severity_defaults_to_medium_and_speaker_to_the_caller() -> None:
    assert parse_rules("lawyer") == [KeywordRule("lawyer", "medium", "user")]
    assert parse_rules("refund@assistant") == [KeywordRule("refund", "medium", "assistant")]


def test_spaces_and_empty_entries_are_ignored() -> None:
    assert parse_rules("") == []
    assert parse_rules(" ,  , ") == []
    assert parse_rules("  speak   to a  manager : high @ any ,") == [
        KeywordRule("speak to a manager", "high", "any")
    ]


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("lawyer:urgent", "keyword entry 1 ('lawyer'): severity must be low, medium or high"),
        ("refund:low@everyone", "speaker must be user, assistant or any"),
        ("a:low, :high", "keyword entry 2: the phrase is empty"),
        ("lawyer:high:low", "expected phrase[:severity][@speaker]"),
        ("lawyer@any:high", "expected phrase[:severity][@speaker]"),
        ("lawyer, LAWYER:high", "keyword entry 2: 'LAWYER' is listed twice"),
    ],
)
def test_bad_syntax_is_refused_in_one_line_naming_the_entry(setting: str, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_rules(setting)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_the_same_phrase_may_be_watched_for_each_speaker() -> None:
    rules = parse_rules("refund:low@user, refund:high@assistant")
    assert [(r.severity, r.speaker) for r in rules] == [("low", "user"), ("high", "assistant")]


def test_a_rule_built_in_code_is_checked_too() -> None:
    with pytest.raises(ValueError, match="severity"):
        KeywordRule("lawyer", "urgent")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="empty"):
        KeywordRule("  ")


@pytest.fixture
def matcher() -> KeywordMatcher:
    return KeywordMatcher(parse_rules(SETTING))


@pytest.mark.parametrize(
    "text",
    ["Lawyer!", "I'll talk to my LAWYER.", "my lawyer's number", "lawyer-up", "(lawyer)"],
)
def test_a_whole_word_matches_whatever_its_case_and_punctuation(
    matcher: KeywordMatcher, text: str
) -> None:
    assert phrases(matcher.matches("user", text)) == ["lawyer"]


@pytest.mark.parametrize("text", ["lawyers", "flawyer", "lawyering", "law yer", "my_lawyer"])
def test_a_word_inside_or_around_another_word_does_not_match(
    matcher: KeywordMatcher, text: str
) -> None:
    assert matcher.matches("user", text) == []


def test_a_phrase_matches_across_any_whitespace(matcher: KeywordMatcher) -> None:
    said = "No. Let me SPEAK to a\n  manager, and cancel\tmy account."
    assert phrases(matcher.matches("user", said)) == ["cancel my account", "speak to a manager"]


def test_each_rule_matches_once_however_often_it_is_said(matcher: KeywordMatcher) -> None:
    assert phrases(matcher.matches("user", "lawyer, lawyer, LAWYER")) == ["lawyer"]


def test_a_rule_applies_only_to_its_speaker(matcher: KeywordMatcher) -> None:
    said = "I can talk to a lawyer about the refund."
    assert phrases(matcher.matches("user", said)) == ["lawyer", "refund"]
    assert phrases(matcher.matches("assistant", said)) == ["refund"]


def test_unicode_case_folding_and_full_width_letters_match() -> None:
    matcher = KeywordMatcher(parse_rules("straße:high, avocat, адвокат"))
    assert phrases(matcher.matches("user", "Ich wohne in der STRASSE")) == ["straße"]
    assert phrases(matcher.matches("user", "Je veux un AVOCAT.")) == ["avocat"]
    assert phrases(matcher.matches("user", "Мне нужен АДВОКАТ!")) == ["адвокат"]
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in "LAWYER")
    assert phrases(KeywordMatcher([KeywordRule("lawyer")]).matches("user", full_width)) == [
        "lawyer"
    ]
    assert matcher.matches("user", "адвокатура") == []


def test_phrases_are_literal_text_never_regular_expressions() -> None:
    matcher = KeywordMatcher([KeywordRule("a.b"), KeywordRule("(x+)+$"), KeywordRule("c++")])
    assert matcher.matches("user", "aXb") == []
    assert phrases(matcher.matches("user", "say a.b and (x+)+$ in c++")) == [
        "a.b",
        "(x+)+$",
        "c++",
    ]


def test_hostile_text_is_matched_safely_and_fast() -> None:
    matcher = KeywordMatcher(parse_rules(SETTING + ", a a a a a a b"))
    hostile = [
        "a " * 50_000,
        "\x00\ud800\udfff\u202e lawyer \ufeff",
        "cancel my " * 20_000 + "accounts",
        "\u0301" * 10_000 + "lawyer\u0301",  # NFKC makes the last letter an r-acute
    ]
    started = time.perf_counter()
    results = [phrases(matcher.matches("user", text)) for text in hostile]
    assert time.perf_counter() - started < 2.0  # linear scans; a backtracking blow-up takes minutes
    assert results == [[], ["lawyer"], [], []]


def test_no_rules_match_nothing() -> None:
    assert KeywordMatcher([]).matches("user", "lawyer") == []

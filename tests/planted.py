"""Personal data to plant in transcripts, and the noise around it (hypothesis strategies)."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st

CARDS = ("4111111111111111", "5555555555554444", "378282246310005", "6011111111111117")
SSNS = ("123-45-6789", "219-09-9999", "078-05-1120")
EMAILS = ("ada.lovelace@example.com", "j_smith+calls@mail.example.org")
PHONES = ("(415) 555-0132", "415-555-0199", "+1 212 555 0143", "+44 20 7946 0958")
ORDINARY = (
    "order 42",
    "3 items",
    "at 10:30",
    "for $19.99",
    "room 101",
    "in 2 weeks",
    "on the 3rd at 4 pm",
    "it costs 35 dollars",
)
WORDS = ("yes", "so", "the", "number", "is", "um", "okay", "and", "thanks", "right", "my", "card")
_SAY = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def digits_of(text: str) -> str:
    return "".join(char for char in text if char.isdigit())


def spoken(value: str) -> str:
    """Digits as ASR writes them when they are read out one by one: "four one one ..."."""
    return " ".join(_SAY[int(char)] if char.isdigit() else char for char in value if char != " ")


@dataclass(frozen=True)
class Secret:
    """A value that must never reach anyone: ``needle`` is searched for, ``text`` is said."""

    kind: str
    needle: str
    text: str

    def found_in(self, haystack: str) -> bool:
        if self.kind == "email":
            return self.needle in haystack
        return self.needle in digits_of(haystack)


def _card(digits: str, style: int) -> str:
    if style == 0:
        return digits
    groups = [digits[i : i + 4] for i in range(0, len(digits), 4)]
    return (" ", "-", ", ")[style - 1].join(groups)


@st.composite
def secrets(draw: st.DrawFn) -> Secret:
    kind = draw(st.sampled_from(("card", "ssn", "email", "phone")))
    say = draw(st.booleans())
    if kind == "card":
        card = draw(st.sampled_from(CARDS))
        text = _card(card, draw(st.integers(0, 3)))
        return Secret(kind, card, spoken(card) if say else text)
    if kind == "ssn":
        ssn = draw(st.sampled_from(SSNS))
        return Secret(kind, digits_of(ssn), f"SSN {spoken(digits_of(ssn))}" if say else ssn)
    if kind == "email":
        email = draw(st.sampled_from(EMAILS))
        return Secret(kind, email, email)
    phone = draw(st.sampled_from(PHONES))
    national = digits_of(phone).removeprefix("1") if phone.startswith("+1") else digits_of(phone)
    return Secret(kind, national, spoken(phone) if say else phone)


def noise() -> st.SearchStrategy[str]:
    """A few words without digits, with punctuation now and then."""
    word = st.sampled_from(WORDS).map(str) | st.sampled_from((",", ".", "?")).map(str)
    return st.lists(word, max_size=6).map(" ".join)


def planted() -> st.SearchStrategy[str]:
    """A planted value as written (for tests that only need the text)."""
    return secrets().map(lambda secret: secret.text)

from collections.abc import Callable
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from webapp.wire.streamkey import DEFAULT_ORG, BadStreamId, StreamKey


def test_keys_name_their_upstream_paths() -> None:
    assert StreamKey.call("CA" + "a" * 32).upstream_path == "/live-transcript/CA" + "a" * 32
    assert StreamKey.campaign("42").upstream_path == "/ws/campaigns/42/progress"
    assert str(StreamKey.campaign(42)) == "campaign:42"
    assert StreamKey.parse("call:CA1") == StreamKey.call("CA1")


@pytest.mark.parametrize(
    "sid",
    ["", "../x", "a" * 129, "CA 1", "CA1\n", "ÇA1", "CA%2F", "<script>", "a/b", ".", "...", "a\tb"],
)
def test_bad_call_ids_are_refused(sid: str) -> None:
    with pytest.raises(BadStreamId):
        StreamKey.call(sid)


TELNYX = "v3:" + "Zk9hT3pVb1ZuR0x4" * 5 + "_-A"


@pytest.mark.parametrize(
    "sid",
    [
        TELNYX,
        "3fa85f64-5717-4562-b3fc-2c963f66afa6",  # Vonage: a UUID
        "CA" + "a" * 32,
        "sip.trunk~7:abc",
        "a" * 128,
        ".hidden.",
    ],
)
def test_every_id_burki_can_produce_is_accepted_and_encoded_upstream(sid: str) -> None:
    key = StreamKey.call(sid)
    assert StreamKey.parse(str(key)) == key  # "call:v3:..." splits at the first colon
    segment = key.upstream_path.removeprefix("/live-transcript/")
    assert "/" not in segment and ":" not in segment
    assert unquote(segment) == sid


@pytest.mark.parametrize("cid", ["", "0", "-1", "1.5", "abc", "٣", "99999999999", "+4", " 4"])
def test_bad_campaign_ids_are_refused(cid: str) -> None:
    with pytest.raises(BadStreamId):
        StreamKey.campaign(cid)


def test_campaign_ids_are_canonical() -> None:
    assert StreamKey.campaign("007") == StreamKey.campaign(7)


def _parse_as_before(text: str) -> StreamKey:
    """``StreamKey.parse`` as it was before keys carried an organisation."""
    kind, _, ident = text.partition(":")
    if kind == "call":
        return StreamKey.call(ident)
    if kind == "campaign":
        return StreamKey.campaign(ident)
    raise BadStreamId("a stream is call:<sid> or campaign:<id>")


def _outcome(parse: Callable[[str], StreamKey], text: str) -> str:
    try:
        return parse(text).render()
    except BadStreamId as exc:
        return f"refused: {exc}"


KEYISH = st.text(alphabet="acl:/mpign0123456789CA-._~ é\n", max_size=24) | st.sampled_from(
    ["call:CA1", "acme/call:CA1", "default/call:CA1", "campaign:007", "call:a/b", "/call:1"]
)


@given(KEYISH)
def test_a_key_of_the_default_organisation_parses_and_renders_exactly_as_before(
    text: str,
) -> None:
    assert _outcome(StreamKey.parse, text) == _outcome(_parse_as_before, text)
    key = StreamKey.read(text)
    assert key is None or (key.org == DEFAULT_ORG and str(key) == text)


def test_a_key_of_another_organisation_carries_it_and_renders_with_its_slug() -> None:
    acme = StreamKey.call("CA1", org="acme")
    assert (acme.org, str(acme), acme.upstream_path) == (
        "acme",
        "acme/call:CA1",
        "/live-transcript/CA1",
    )
    assert StreamKey.parse("acme/call:CA1", orgs={"acme"}) == acme
    assert StreamKey.parse("acme/campaign:07", orgs={"acme"}) == StreamKey.campaign(7, org="acme")
    assert acme != StreamKey.call("CA1") and len({acme, StreamKey.call("CA1")}) == 2
    assert str(StreamKey.call("CA1", org=DEFAULT_ORG)) == "call:CA1"


@pytest.mark.parametrize(
    "text",
    ["acme/call:CA1", "default/call:CA1", "ACME/call:CA1", "a" * 33 + "/call:CA1", "acme//call:1"],
)
def test_an_organisation_not_named_as_known_is_refused_as_any_malformed_key(text: str) -> None:
    with pytest.raises(BadStreamId) as refused:
        StreamKey.parse(text, orgs={"globex"})
    assert str(refused.value) == "a stream is call:<sid> or campaign:<id>"
    assert StreamKey.read(text, orgs={"globex"}) is None


@pytest.mark.parametrize("org", ["", "Acme", "acme corp", "../x", "a" * 33, "-x", "ac/me"])
def test_a_hostile_organisation_slug_is_refused(org: str) -> None:
    with pytest.raises(BadStreamId, match="organisation"):
        StreamKey.call("CA1", org=org)

from urllib.parse import unquote

import pytest

from webapp.wire.streamkey import BadStreamId, StreamKey


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

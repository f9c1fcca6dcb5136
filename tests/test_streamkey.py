import pytest

from webapp.wire.streamkey import BadStreamId, StreamKey


def test_keys_name_their_upstream_paths() -> None:
    assert StreamKey.call("CA" + "a" * 32).upstream_path == "/live-transcript/CA" + "a" * 32
    assert StreamKey.campaign("42").upstream_path == "/ws/campaigns/42/progress"
    assert str(StreamKey.campaign(42)) == "campaign:42"
    assert StreamKey.parse("call:CA1") == StreamKey.call("CA1")


@pytest.mark.parametrize(
    "sid", ["", "../x", "a" * 65, "CA 1", "CA1\n", "ÇA1", "CA%2F", "<script>", "a/b"]
)
def test_bad_call_ids_are_refused(sid: str) -> None:
    with pytest.raises(BadStreamId):
        StreamKey.call(sid)


@pytest.mark.parametrize("cid", ["", "0", "-1", "1.5", "abc", "٣", "99999999999", "+4", " 4"])
def test_bad_campaign_ids_are_refused(cid: str) -> None:
    with pytest.raises(BadStreamId):
        StreamKey.campaign(cid)


def test_campaign_ids_are_canonical() -> None:
    assert StreamKey.campaign("007") == StreamKey.campaign(7)

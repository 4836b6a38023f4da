"""The AMI frame parser and encoder (services/telephony/adapters/ami/frames.py) on plain bytes:
greeting, frames cut at every possible position (and, as a hypothesis property, at any set of
positions), repeated keys, values holding `: `, bare LF, the size bound, and header injection."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.telephony.adapters.ami.frames import (
    Frame,
    FrameParser,
    FrameTooLarge,
    UnsafeHeader,
    encode_action,
    encode_frame,
)

GREETING = b"Asterisk Call Manager/5.0.1\r\n"
LOGIN_OK = b"Response: Success\r\nActionID: xuc-1\r\nMessage: Authentication accepted\r\n\r\n"
NEWCHANNEL = (b"Event: Newchannel\r\nPrivilege: call,all\r\nChannel: PJSIP/1001-00000001\r\n"
              b"ChannelState: 0\r\nChannelStateDesc: Down\r\nCallerIDNum: 1001\r\nCallerIDName: Alice Jones\r\n"
              b"Uniqueid: 1700000000.1\r\nLinkedid: 1700000000.1\r\n\r\n")
VARSET = (b"Event: Newexten\r\nChannel: PJSIP/1001-00000001\r\nApplication: Set\r\n"
          b"AppData: XUC_DATA=a: b\r\nChanVariable: XIVO_USERID=7\r\nChanVariable: XIVO_SRCNUM=1001\r\n\r\n")
STREAM = GREETING + LOGIN_OK + NEWCHANNEL + VARSET


def parse_in_pieces(data: bytes, cuts: list[int]) -> tuple[FrameParser, list[Frame]]:
    parser = FrameParser()
    frames: list[Frame] = []
    start = 0
    for cut in [*sorted(cuts), len(data)]:
        frames += parser.feed(data[start:cut])
        start = cut
    return parser, frames


EXPECTED = parse_in_pieces(STREAM, [])[1]


def test_the_greeting_is_read_apart_and_frames_follow_it() -> None:
    parser, frames = parse_in_pieces(STREAM, [])
    assert parser.greeting == "Asterisk Call Manager/5.0.1"
    assert [frame.first("Response") or frame.event for frame in frames] == ["Success", "Newchannel", "Newexten"]
    assert frames[1]["CallerIDName"] == "Alice Jones"
    assert frames[1]["Uniqueid"] == "1700000000.1"


def test_a_greeting_alone_gives_no_frame() -> None:
    parser = FrameParser()
    assert parser.feed(GREETING) == []
    assert parser.greeting == "Asterisk Call Manager/5.0.1"


@pytest.mark.parametrize("cut", range(len(STREAM) + 1))
def test_every_split_position_gives_the_same_frames(cut: int) -> None:
    assert parse_in_pieces(STREAM, [cut])[1] == EXPECTED


def test_byte_by_byte_gives_the_same_frames() -> None:
    assert parse_in_pieces(STREAM, list(range(len(STREAM))))[1] == EXPECTED


@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=30))
def test_any_splitting_gives_the_same_frames(cuts: list[int]) -> None:
    assert parse_in_pieces(STREAM, cuts)[1] == EXPECTED


@given(st.lists(st.dictionaries(st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,12}", fullmatch=True),
                                st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\r\n"),
                                        max_size=30),
                                min_size=1, max_size=5), min_size=1, max_size=4),
       st.lists(st.integers(min_value=0, max_value=400), max_size=10))
def test_encoded_frames_parse_back_whatever_the_splitting(frames: list[dict[str, str]], cuts: list[int]) -> None:
    data = GREETING + b"".join(encode_frame(frame.items()) for frame in frames)
    parsed = parse_in_pieces(data, [cut for cut in cuts if cut <= len(data)])[1]
    assert [list(frame.headers) for frame in parsed] == [list(frame.items()) for frame in frames]


def test_repeated_keys_are_all_kept_in_order() -> None:
    frame = parse_in_pieces(GREETING + VARSET, [])[1][0]
    assert frame.first("ChanVariable") == "XIVO_USERID=7"
    assert frame["ChanVariable"] == "XIVO_USERID=7"
    assert frame.all("ChanVariable") == ["XIVO_USERID=7", "XIVO_SRCNUM=1001"]
    assert list(frame) == ["Event", "Channel", "Application", "AppData", "ChanVariable"]
    assert len(frame) == 5


def test_a_value_may_contain_colon_space() -> None:
    frame = parse_in_pieces(GREETING + VARSET, [])[1][0]
    assert frame["AppData"] == "XUC_DATA=a: b"


def test_keys_are_case_insensitive() -> None:
    frame = Frame([("UniqueID", "1.2"), ("Event", "CoreShowChannel")])
    assert frame["Uniqueid"] == "1.2"
    assert "uniqueid" in frame
    assert frame.first("Missing") == ""
    assert frame.first("Missing", "-") == "-"
    assert frame.all("Missing") == []
    with pytest.raises(KeyError):
        frame["Missing"]


def test_bare_lf_line_ends_are_accepted() -> None:
    data = STREAM.replace(b"\r\n", b"\n")
    assert parse_in_pieces(data, [])[1] == EXPECTED


def test_stray_empty_lines_between_frames_are_ignored() -> None:
    data = GREETING + b"\r\n\r\n" + LOGIN_OK + b"\r\n" + NEWCHANNEL
    assert parse_in_pieces(data, [])[1] == EXPECTED[:2]


def test_a_line_without_colon_is_kept_as_output() -> None:
    data = GREETING + b"Response: Follows\r\nPrivilege: Command\r\nsome raw output\r\n--END COMMAND--\r\n\r\n"
    frame = parse_in_pieces(data, [])[1][0]
    assert frame.all("Output") == ["some raw output", "--END COMMAND--"]


def test_an_empty_value_a_key_with_no_space_and_a_value_with_leading_space() -> None:
    data = GREETING + b"Event: X\r\nAccountCode: \r\nExten:1002\r\nData:  padded\r\n\r\n"
    frame = parse_in_pieces(data, [])[1][0]
    assert frame["AccountCode"] == ""
    assert frame["Exten"] == "1002"
    assert frame["Data"] == " padded"


def test_a_line_that_is_not_utf8_is_read_as_latin1() -> None:
    frame = parse_in_pieces(GREETING + "Event: X\r\nCallerIDName: Müller\r\n\r\n".encode("latin-1"), [])[1][0]
    assert frame["CallerIDName"] == "Müller"


def test_utf8_split_inside_a_character_is_decoded_whole() -> None:
    data = GREETING + "Event: X\r\nCallerIDName: Zoë\r\n\r\n".encode()
    cut = data.index("ë".encode()) + 1
    assert parse_in_pieces(data, [cut])[1][0]["CallerIDName"] == "Zoë"


def test_an_endless_line_is_refused_past_the_bound() -> None:
    parser = FrameParser(max_frame_bytes=1024)
    parser.feed(GREETING + b"Event: X\r\nValue: ")
    for _ in range(10):
        parser.feed(b"y" * 100)  # still under the bound
    with pytest.raises(FrameTooLarge, match="1024 bytes"):
        parser.feed(b"y" * 100)


def test_an_endless_frame_of_short_lines_is_refused_past_the_bound() -> None:
    parser = FrameParser(max_frame_bytes=1024)
    parser.feed(GREETING + b"".join(f"Key{index:03}: value\r\n".encode() for index in range(68)))  # 1020 bytes
    with pytest.raises(FrameTooLarge):
        parser.feed(b"Key999: value\r\n")


def test_the_default_bound_is_one_mebibyte() -> None:
    parser = FrameParser()
    parser.feed(GREETING + b"Event: X\r\nBig: " + b"y" * (1024 * 1024 - 100))
    with pytest.raises(FrameTooLarge):
        parser.feed(b"y" * 200)


def test_a_large_frame_under_the_bound_is_fine() -> None:
    big = b"y" * 500_000
    frames = parse_in_pieces(GREETING + b"Event: X\r\nBig: " + big + b"\r\n\r\n", [100_000, 300_000])[1]
    assert frames[0]["Big"] == big.decode()


def test_encode_action_writes_one_line_per_value() -> None:
    data = encode_action("Originate", "xuc-1", {"Channel": "PJSIP/1001", "Variable": ["A=1", "B=x: y"]})
    assert data == (b"Action: Originate\r\nActionID: xuc-1\r\nChannel: PJSIP/1001\r\n"
                    b"Variable: A=1\r\nVariable: B=x: y\r\n\r\n")


@pytest.mark.parametrize("value", ["1001\r\nAction: Hangup", "x\ny", "x\r"])
def test_encode_action_refuses_line_breaks_in_values(value: str) -> None:
    with pytest.raises(UnsafeHeader):
        encode_action("DBPut", "xuc-1", {"Val": value})
    with pytest.raises(UnsafeHeader):
        encode_action("Originate", "xuc-1", {"Variable": ["A=1", value]})


@pytest.mark.parametrize(("name", "action_id", "key"),
                         [("Ping\r\nAction: Hangup", "1", "K"), ("Ping", "1\n", "K"), ("Ping", "1", "K\r\nX"),
                          ("Ping", "1", "A: B"), ("Ping", "1", "")])
def test_encode_action_refuses_unsafe_names(name: str, action_id: str, key: str) -> None:
    with pytest.raises(UnsafeHeader):
        encode_action(name, action_id, {key: "v"})

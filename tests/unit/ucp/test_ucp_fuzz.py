"""R3 for UCP: any bytes give operations, results or UcpError, never another exception, in
bounded memory; feeding the stream at once, byte by byte or in random pieces gives the same
results; whatever decodes re-encodes to the same value. Also one test per known framing attack."""

from __future__ import annotations

import contextlib
import random
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from smpp_bridge.smpp.rules import Role
from smpp_bridge.ucp import FrameDecoder, Message, SendData, UcpError, UcpSession, decode_frame, encode
from smpp_bridge.ucp.stream import StxEtxSplitter

from .ucp_strategies import any_message, mutated_frame

FUZZ = settings(max_examples=400, deadline=timedelta(milliseconds=500))
SIZE_MAX = 512


def normalise(items: list[Message | UcpError]) -> list[object]:
    return [item.key() if isinstance(item, UcpError) else item for item in items]


def check(items: list[Message | UcpError]) -> None:
    for item in items:
        if isinstance(item, UcpError):
            assert item.answerable == (item.trn is not None and item.ot is not None and item.o_r == "O")
        else:
            assert decode_frame(encode(item)) == item


def feed(pieces: list[bytes]) -> list[Message | UcpError]:
    decoder = FrameDecoder(SIZE_MAX)
    out: list[Message | UcpError] = []
    for piece in pieces:
        out += decoder.feed(piece)
        assert decoder.buffered <= SIZE_MAX
    return out


def split(data: bytes, rng: random.Random) -> list[bytes]:
    cuts = sorted(rng.sample(range(len(data) + 1), min(len(data), rng.randint(0, 8))))
    return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]


@given(st.binary(max_size=2000))
@FUZZ
def test_arbitrary_bytes(data: bytes) -> None:
    check(FrameDecoder().feed(data))
    with contextlib.suppress(UcpError):
        check([decode_frame(data)])


@given(mutated_frame())
@FUZZ
def test_mutated_frames(data: bytes) -> None:
    check(FrameDecoder().feed(data))
    with contextlib.suppress(UcpError):
        check([decode_frame(data)])


streams = st.lists(
    st.one_of(
        any_message.map(encode), mutated_frame(), st.binary(max_size=40), st.just(b"\x02" + b"1" * 700)
    ),
    max_size=6,
).map(b"".join)


@given(streams, st.randoms(use_true_random=False))
@FUZZ
def test_chunking_never_changes_the_result(data: bytes, rng: random.Random) -> None:
    whole = feed([data])
    check(whole)
    assert normalise(feed([data[i : i + 1] for i in range(len(data))])) == normalise(whole)
    assert normalise(feed(split(data, rng))) == normalise(whole)


@given(st.lists(any_message, max_size=5), st.binary(max_size=30))
@FUZZ
def test_good_frames_survive_garbage_between_them(messages: list[Message], garbage: bytes) -> None:
    garbage = garbage.replace(b"\x02", b"").replace(b"\x03", b"")
    data = garbage + garbage.join(encode(m) for m in messages) + garbage
    assert FrameDecoder(8192).feed(data) == messages


@given(st.lists(st.binary(max_size=300), max_size=8), st.sampled_from([Role.SMSC, Role.ESME]), st.booleans())
@FUZZ
def test_the_session_survives_any_bytes(chunks: list[bytes], role: Role, login: bool) -> None:
    session = UcpSession(role, 0.0, login_required=login, alert_address="1234")
    now = 0.0
    for chunk in chunks:
        now += 1.0
        for event in session.receive_data(chunk, now):
            if isinstance(event, SendData):
                check([decode_frame(event.data)])  # what it sends by itself is well formed
        session.handle_timer(now)
    assert session.inbound_pending <= 100


# --- one regression test per framing attack ---------------------------------------------------------
def test_endless_frame_is_reported_once_and_memory_stays_bounded() -> None:
    decoder = FrameDecoder(SIZE_MAX)
    out: list[Message | UcpError] = []
    out += decoder.feed(b"\x0200/00099/O/51/")
    for _ in range(1000):
        out += decoder.feed(b"1" * 1000)
        assert decoder.buffered <= SIZE_MAX
    assert [(e.ec, e.trn, e.ot, e.answerable) for e in out if isinstance(e, UcpError)] == [(24, 0, 51, True)]
    ok = encode(decode_frame(b"\x0200/00019/R/60/A//6D\x03"))
    assert decoder.feed(b"\x03" + ok) == [decode_frame(ok)]  # resynchronised


def test_stx_inside_a_frame_restarts_it() -> None:
    good = b"\x0200/00019/R/60/A//6D\x03"
    items = FrameDecoder().feed(b"\x0212/00022/R/01/N/0" + good)
    assert isinstance(items[0], UcpError) and not items[0].answerable  # an R: nothing to answer
    assert items[1:] == [decode_frame(good)]


def test_lone_etx_and_noise_are_ignored() -> None:
    splitter = StxEtxSplitter(SIZE_MAX)
    assert splitter.feed(b"\x03\x03noise\x03") == []
    assert splitter.discarded == 8


def test_splitter_limit_must_leave_room_for_a_header() -> None:
    import pytest

    with pytest.raises(ValueError):
        StxEtxSplitter(16)

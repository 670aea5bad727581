"""R3 for CIMD2: any bytes give packets or Cimd2Error, never another exception, in bounded memory;
feeding the stream at once, byte by byte or in random pieces gives the same results; whatever
decodes re-encodes to the same value. Also one test per known framing attack."""

from __future__ import annotations

import contextlib
import random
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from smpp_bridge.cimd2 import (
    Alive,
    Cimd2Decoder,
    Cimd2Error,
    Cimd2Session,
    Message,
    SendData,
    decode_frame,
    encode,
)
from smpp_bridge.smpp.rules import Role

from .cimd2_strategies import encoded, mutated_packet

FUZZ = settings(max_examples=400, deadline=timedelta(milliseconds=500))
SIZE_MAX = 512


def normalise(items: list[Message | Cimd2Error]) -> list[object]:
    return [item.key() if isinstance(item, Cimd2Error) else item for item in items]


def check(items: list[Message | Cimd2Error]) -> None:
    for item in items:
        if not isinstance(item, Cimd2Error):
            assert decode_frame(encode(item)) == item
            assert decode_frame(encode(item, with_checksum=False)) == item


def feed(pieces: list[bytes]) -> list[Message | Cimd2Error]:
    decoder = Cimd2Decoder(SIZE_MAX)
    out: list[Message | Cimd2Error] = []
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
    check(Cimd2Decoder().feed(data))
    with contextlib.suppress(Cimd2Error):
        check([decode_frame(data)])


@given(mutated_packet())
@FUZZ
def test_mutated_packets(data: bytes) -> None:
    check(Cimd2Decoder().feed(data))
    with contextlib.suppress(Cimd2Error):
        check([decode_frame(data)])


streams = st.lists(
    st.one_of(encoded(), mutated_packet(), st.binary(max_size=40), st.just(b"\x0203:001\t" + b"1" * 700)),
    max_size=6,
).map(b"".join)


@given(streams, st.randoms(use_true_random=False))
@FUZZ
def test_chunking_never_changes_the_result(data: bytes, rng: random.Random) -> None:
    whole = feed([data])
    check(whole)
    assert normalise(feed([data[i : i + 1] for i in range(len(data))])) == normalise(whole)
    assert normalise(feed(split(data, rng))) == normalise(whole)


@given(st.lists(st.binary(max_size=300), max_size=8), st.sampled_from([Role.SMSC, Role.ESME]), st.booleans())
@FUZZ
def test_the_session_survives_any_bytes(chunks: list[bytes], role: Role, with_checksum: bool) -> None:
    session = Cimd2Session(role, 0.0, checksum=with_checksum)
    now = 0.0
    for chunk in chunks:
        now += 1.0
        for event in session.receive_data(chunk, now):
            if isinstance(event, SendData):
                check([decode_frame(event.data)])
        session.handle_timer(now)


def test_endless_packet_is_reported_once_and_memory_stays_bounded() -> None:
    decoder = Cimd2Decoder(SIZE_MAX)
    out = decoder.feed(b"\x0203:001\t033:")
    for _ in range(1000):
        out += decoder.feed(b"x" * 1000)
        assert decoder.buffered <= SIZE_MAX
    assert [(e.opcode, e.number) for e in out if isinstance(e, Cimd2Error)] == [(3, 1)]
    assert decoder.feed(b"\x03" + encode(Alive(number=5))) == [Alive(number=5)]


def test_noise_between_packets_is_ignored() -> None:
    data = b"noise" + encode(Alive(number=1)) + b"\x03more noise" + encode(Alive(number=3))
    assert Cimd2Decoder().feed(data) == [Alive(number=1), Alive(number=3)]

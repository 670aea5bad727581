"""R3 for SMPP: any bytes give PDUs or SmppError, never another exception, in bounded time and
memory; feeding the stream at once, byte by byte or in random pieces gives the same results.
Also one regression test per known framing attack."""

from __future__ import annotations

import contextlib
import os
import random
import time
from collections import Counter
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smpp_bridge.smpp import (
    BindTransceiver,
    DataSm,
    DeliverSm,
    Pdu,
    PduDecoder,
    Role,
    SendData,
    SmppError,
    SmppSession,
    SubmitMulti,
    SubmitSm,
    SubmitSmResp,
    decode_pdu,
    encode_pdu,
    tlv,
)
from smpp_bridge.smpp import constants as c
from smpp_bridge.smpp.codec import HEADER
from smpp_bridge.smpp.pdus import SmeAddress

from .smpp_strategies import any_pdu, mutated_pdu_bytes

FUZZ = settings(max_examples=1500, deadline=timedelta(milliseconds=500))


def normalise(items: list[Pdu | SmppError]) -> list[object]:
    return [item.key() if isinstance(item, SmppError) else item for item in items]


def feed_pieces(pieces: list[bytes], size_max: int = 64 * 1024) -> list[Pdu | SmppError]:
    decoder = PduDecoder(size_max)
    out: list[Pdu | SmppError] = []
    for piece in pieces:
        out += decoder.feed(piece)
        assert decoder.buffered <= size_max
    return out


def check_items(items: list[Pdu | SmppError]) -> None:
    for item in items:
        assert isinstance(item, Pdu | SmppError)
        if isinstance(item, Pdu):  # whatever decodes re-encodes to the same value
            assert decode_pdu(encode_pdu(item)) == item


@given(st.binary(max_size=3000))
@FUZZ
def test_arbitrary_bytes(data: bytes) -> None:
    check_items(PduDecoder().feed(data))
    with contextlib.suppress(SmppError):
        decode_pdu(data)


@given(mutated_pdu_bytes())
@FUZZ
def test_mutated_pdus(data: bytes) -> None:
    check_items(PduDecoder().feed(data))
    with contextlib.suppress(SmppError):
        check_items([decode_pdu(data)])


streams = st.lists(st.one_of(any_pdu.map(encode_pdu), mutated_pdu_bytes()), max_size=6).map(b"".join)


@given(streams, st.data())
@settings(max_examples=400, deadline=timedelta(seconds=2), suppress_health_check=[HealthCheck.too_slow])
def test_chunking_does_not_change_the_results(stream: bytes, data: st.DataObject) -> None:
    whole = normalise(feed_pieces([stream]))
    byte_by_byte = normalise(feed_pieces([stream[i : i + 1] for i in range(len(stream))]))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    pieces = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    assert whole == byte_by_byte == normalise(feed_pieces(pieces))


def _bound_session(role: Role) -> SmppSession:
    session = SmppSession(role, 0.0)
    if role is Role.SMSC:
        session.receive_data(encode_pdu(BindTransceiver(1, system_id="a")), 0.0)
        session.accept_bind("bridge")
    else:
        session.send_request(BindTransceiver(system_id="a"), 0.0)
        session.receive_data(bytes.fromhex("0000001180000009000000000000000100"), 0.0)
    return session


def session_events(role: Role, pieces: list[bytes]) -> list[object]:
    session = _bound_session(role)
    events: list[object] = []
    for piece in pieces:
        events += session.receive_data(piece, 1.0)
    for event in events:
        if isinstance(event, SendData):  # what the session sends is always well-formed
            decode_pdu(event.data)
    return events


@given(st.sampled_from([Role.SMSC, Role.ESME]), streams)
@settings(max_examples=500, deadline=timedelta(seconds=2), suppress_health_check=[HealthCheck.too_slow])
def test_sessions_take_any_bytes_and_chunking_does_not_matter(role: Role, stream: bytes) -> None:
    at_once = session_events(role, [stream])
    assert at_once == session_events(role, [stream[i : i + 1] for i in range(len(stream))])


def test_seeded_fuzz_prints_what_it_covered() -> None:
    """Deterministic mutation fuzzing; set SMPP_FUZZ_SEED to replay, SMPP_FUZZ_COUNT to go longer."""
    seed = int(os.environ.get("SMPP_FUZZ_SEED", "3405691582"))
    count = int(os.environ.get("SMPP_FUZZ_COUNT", "20000"))
    rng = random.Random(seed)
    corpus = [
        encode_pdu(SubmitSm(2, source_addr="BILLING", destination_addr="447700900123", short_message=b"hi")),
        encode_pdu(DeliverSm(3, esm_class=4, tlvs=(tlv.RECEIPTED_MESSAGE_ID("1"), tlv.MESSAGE_STATE(2)))),
        encode_pdu(SubmitMulti(4, dest_addresses=(SmeAddress(1, 1, "4477"),) * 3, short_message=b"x")),
        encode_pdu(DataSm(5, tlvs=(tlv.MESSAGE_PAYLOAD(b"p" * 300),))),
        encode_pdu(BindTransceiver(6, system_id="acme", password="pw")),
        encode_pdu(SubmitSmResp(7, 0, "abc")),
    ]
    seen: Counter[str] = Counter()
    started = time.perf_counter()
    for i in range(count):
        data = bytearray(rng.choice(corpus))
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(data))
            data[at] = rng.randrange(256)
        if rng.random() < 0.5:
            data[0:4] = len(data).to_bytes(4, "big")
        try:
            items = PduDecoder().feed(bytes(data))
            check_items(items)
        except Exception as exc:  # pragma: no cover - the failure report
            pytest.fail(f"seed={seed} case={i} input={bytes(data).hex()} raised {exc!r}")
        for item in items:
            seen[c.status_name(item.status) if isinstance(item, SmppError) else type(item).__name__] += 1
    elapsed = time.perf_counter() - started
    print(f"smpp fuzz: seed={seed} inputs={count} in {elapsed:.2f}s outcomes={dict(seen.most_common())}")
    assert seen["SubmitSm"] and seen["ESME_RINVCMDLEN"]


# --- regression tests, one per framing attack --------------------------------------------------
def test_huge_command_length_is_refused_at_the_header() -> None:
    decoder = PduDecoder(64 * 1024)
    (error,) = decoder.feed(HEADER.pack(0xFFFFFFFF, c.SUBMIT_SM, 0, 77))
    assert isinstance(error, SmppError)
    assert (error.status, error.sequence_number, error.fatal) == (c.ESME_RINVCMDLEN, 77, True)
    assert decoder.failed and decoder.buffered == 0
    assert decoder.feed(b"\0" * 100_000) == []


def test_length_at_and_just_over_the_limit() -> None:
    size_max = 1024
    ok = encode_pdu(DataSm(1, tlvs=(tlv.MESSAGE_PAYLOAD(b"x" * (size_max - 16 - 10 - 4)),)))
    assert len(ok) == size_max
    (pdu,) = PduDecoder(size_max).feed(ok)
    assert isinstance(pdu, DataSm)
    over = encode_pdu(DataSm(1, tlvs=(tlv.MESSAGE_PAYLOAD(b"x" * (size_max - 16 - 10 - 3)),)))
    (error,) = PduDecoder(size_max).feed(over)
    assert isinstance(error, SmppError) and error.fatal


def test_slow_drip_keeps_one_partial_pdu() -> None:
    decoder = PduDecoder(4096)
    data = encode_pdu(DataSm(1, tlvs=(tlv.MESSAGE_PAYLOAD(b"y" * 4000),)))
    out: list[Pdu | SmppError] = []
    for i in range(len(data)):
        out += decoder.feed(data[i : i + 1])
        assert decoder.buffered <= 4096
    assert len(out) == 1 and decoder.buffered == 0


def test_max_size_pdu_of_empty_tlvs_decodes_in_bounded_time() -> None:
    body = encode_pdu(DataSm(1))[16:]
    tlvs = b"\x14\x00\x00\x00" * ((64 * 1024 - 16 - len(body)) // 4)
    data = HEADER.pack(16 + len(body) + len(tlvs), c.DATA_SM, 0, 1) + body + tlvs
    started = time.perf_counter()
    (pdu,) = PduDecoder(64 * 1024).feed(data)
    assert isinstance(pdu, DataSm) and len(pdu.tlvs) > 16_000
    assert time.perf_counter() - started < 1.0


def test_pdus_in_one_read_survive_a_bad_one_between_them() -> None:
    good = encode_pdu(SubmitSm(1, destination_addr="1"))
    unknown = HEADER.pack(16, 0x00000111, 0, 2)
    short = HEADER.pack(20, c.SUBMIT_SM, 0, 3) + b"\0\0\0\0"
    items = PduDecoder().feed(good + unknown + short + good)
    assert [type(i).__name__ for i in items] == ["SubmitSm", "SmppError", "SmppError", "SubmitSm"]
    assert [i.status for i in items if isinstance(i, SmppError)] == [c.ESME_RINVCMDID, c.ESME_RINVCMDLEN]


def test_nothing_is_decoded_after_a_fatal_error_in_the_same_read() -> None:
    good = encode_pdu(SubmitSm(1, destination_addr="1"))
    items = PduDecoder().feed(good + HEADER.pack(8, 4, 0, 2) + good)
    assert [type(i).__name__ for i in items] == ["SubmitSm", "SmppError"]

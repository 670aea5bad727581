"""UDH concat elements, SAR values and the reassembly buffer."""

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsbilling.domain.concat import (
    ConcatInfo,
    DropReason,
    InformationElement,
    ReassemblyBuffer,
    build_udh,
    concat_from_sar,
    split_udh,
    udh_short_messages,
)
from smsbilling.domain.text import TextError, TextErrorCode, decode_payload, gsm7_fill_bits, plan_segments


def test_parse_kannel_udh() -> None:
    header, payload = split_udh(bytes.fromhex("050003020201") + b"hello")
    assert header.concat == ConcatInfo(ref=2, total=2, seq=1)
    assert header.length == 6
    assert gsm7_fill_bits(header.length) == 1
    assert payload == b"hello"


def test_parse_16bit_reference_and_skip_other_ies() -> None:
    # port addressing (IEI 0x05) before a 16-bit concat IE
    udh = bytes.fromhex("0c 05 04 0b84 23f0 08 04 1234 03 02")
    header, payload = split_udh(udh + b"x")
    assert header.concat == ConcatInfo(ref=0x1234, total=3, seq=2)
    assert header.elements == (InformationElement(iei=0x05, data=bytes.fromhex("0b8423f0")),)
    assert payload == b"x"


def test_last_concat_ie_wins() -> None:
    header, _ = split_udh(bytes.fromhex("0a 00 03 01 02 01 00 03 07 03 02"))
    assert header.concat == ConcatInfo(ref=7, total=3, seq=2)


def test_udh_without_concat() -> None:
    header, payload = split_udh(bytes.fromhex("00") + b"abc")
    assert header.concat is None
    assert header.elements == ()
    assert payload == b"abc"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", TextErrorCode.BAD_UDH),
        (bytes.fromhex("05000302"), TextErrorCode.BAD_UDH),  # UDHL beyond the data
        (bytes.fromhex("0100"), TextErrorCode.BAD_UDH),  # truncated IE
        (bytes.fromhex("020005"), TextErrorCode.BAD_UDH),  # IE length overruns
        (bytes.fromhex("0400020201"), TextErrorCode.BAD_UDH),  # concat IE of wrong length
        (bytes.fromhex("050003020200"), TextErrorCode.BAD_PART),  # seq 0
        (bytes.fromhex("050003020203"), TextErrorCode.BAD_PART),  # seq > total
        (bytes.fromhex("050003020000"), TextErrorCode.BAD_PART),  # total 0
        (bytes.fromhex("050003020101"), TextErrorCode.BAD_PART),  # total 1 with a UDH
    ],
)
def test_bad_udh(data: bytes, code: TextErrorCode) -> None:
    with pytest.raises(TextError) as err:
        split_udh(data)
    assert err.value.code is code


def test_sar_values() -> None:
    assert concat_from_sar(0xBEEF, 3, 3) == ConcatInfo(ref=0xBEEF, total=3, seq=3)
    assert concat_from_sar(5, 1, 1).total == 1  # SAR allows a whole message
    for ref, total, seq in [(-1, 2, 1), (0x10000, 2, 1), (1, 0, 0), (1, 256, 1), (1, 2, 0), (1, 2, 3)]:
        with pytest.raises(TextError) as err:
            concat_from_sar(ref, total, seq)
        assert err.value.code is TextErrorCode.BAD_PART


@given(st.integers(0, 0xFFFF), st.integers(2, 255), st.data(), st.booleans())
def test_build_parse_round_trip(ref: int, total: int, data: st.DataObject, ref_16bit: bool) -> None:
    seq = data.draw(st.integers(1, total))
    if not ref_16bit:
        ref &= 0xFF
    info = ConcatInfo(ref=ref, total=total, seq=seq)
    header, payload = split_udh(build_udh(info, ref_16bit=ref_16bit) + b"p")
    assert header.concat == info
    assert header.length == (7 if ref_16bit else 6)
    assert payload == b"p"


def test_8bit_udh_refuses_a_16bit_reference() -> None:
    with pytest.raises(TextError):
        build_udh(ConcatInfo(ref=256, total=2, seq=1))


def test_single_segment_gets_no_udh() -> None:
    assert udh_short_messages((b"abc",), ref=1) == (b"abc",)


def _add_all(buffer: ReassemblyBuffer[bytes], parts: list[tuple[int, bytes]], ref: int = 9) -> list[bytes]:
    """Feed parts; return every completed message (joined)."""
    done = []
    total = max(seq for seq, _ in parts)
    for seq, payload in parts:
        result = buffer.add(
            source="447700900123",
            destination="7494",
            concat=ConcatInfo(ref=ref, total=total, seq=seq),
            part=payload,
            now=0.0,
        )
        if result.complete is not None:
            done.append(b"".join(result.complete.parts))
    return done


@pytest.mark.parametrize("order", list(itertools.permutations([1, 2, 3])))
def test_reassembly_in_every_order_with_duplicates(order: tuple[int, ...]) -> None:
    buffer: ReassemblyBuffer[bytes] = ReassemblyBuffer(timeout_s=300, pending_max=10)
    payloads = {1: b"aa", 2: b"bb", 3: b"cc"}
    first, second, third = [(seq, payloads[seq]) for seq in order]
    assert _add_all(buffer, [first, first, second, first, second, third]) == [b"aabbcc"]
    assert len(buffer) == 0


def test_copy_after_completion_opens_an_entry_that_expires() -> None:
    # the buffer cannot know a message was completed; completed MOs are deduplicated upstream
    buffer: ReassemblyBuffer[bytes] = ReassemblyBuffer(timeout_s=300, pending_max=10)
    assert _add_all(buffer, [(1, b"a"), (2, b"b"), (2, b"b")]) == [b"ab"]
    assert len(buffer) == 1
    [late] = buffer.expire(300.0)
    assert late.missing == (1,)


@given(st.integers(2, 8).flatmap(lambda n: st.permutations(range(1, n + 1))), st.data())
def test_reassembly_property(order: list[int], data: st.DataObject) -> None:
    buffer: ReassemblyBuffer[int] = ReassemblyBuffer(timeout_s=300, pending_max=10)
    total = len(order)
    early = order[:-1]
    copies = data.draw(st.lists(st.sampled_from(early), max_size=6))
    feed = [*data.draw(st.permutations(early + copies)), order[-1]]
    seen: set[int] = set()
    for index, seq in enumerate(feed):
        result = buffer.add(
            source="a", destination="b", concat=ConcatInfo(ref=1, total=total, seq=seq), part=seq, now=1.0
        )
        assert result.duplicate == (seq in seen)
        seen.add(seq)
        last = index == len(feed) - 1
        assert (result.complete is not None) == last
        if result.complete is not None:
            assert result.complete.parts == tuple(range(1, total + 1))
    assert len(buffer) == 0


def test_decode_reassembled_split_escape() -> None:
    # a sloppy sender cut between ESC and its code: join raw parts, then decode once
    buffer: ReassemblyBuffer[bytes] = ReassemblyBuffer(timeout_s=300, pending_max=10)
    buffer.add(source="a", destination="b", concat=ConcatInfo(1, 2, 2), part=b"\x65!", now=0)
    result = buffer.add(source="a", destination="b", concat=ConcatInfo(1, 2, 1), part=b"x\x1b", now=0)
    assert result.complete is not None
    assert decode_payload(b"".join(result.complete.parts), 0) == "x€!"


def test_keys_separate_sources_and_totals() -> None:
    buffer: ReassemblyBuffer[str] = ReassemblyBuffer(timeout_s=300, pending_max=10)
    buffer.add(source="a", destination="b", concat=ConcatInfo(1, 2, 1), part="a1", now=0)
    buffer.add(source="c", destination="b", concat=ConcatInfo(1, 2, 1), part="c1", now=0)
    buffer.add(source="a", destination="b", concat=ConcatInfo(1, 3, 1), part="a1of3", now=0)
    assert len(buffer) == 3
    done = buffer.add(source="c", destination="b", concat=ConcatInfo(1, 2, 2), part="c2", now=0)
    assert done.complete is not None
    assert done.complete.parts == ("c1", "c2")


def test_sar_total_one_completes_at_once() -> None:
    buffer: ReassemblyBuffer[str] = ReassemblyBuffer(timeout_s=300, pending_max=10)
    result = buffer.add(source="a", destination="b", concat=concat_from_sar(4, 1, 1), part="x", now=0)
    assert result.complete is not None
    assert result.complete.parts == ("x",)
    assert len(buffer) == 0


def test_expiry_is_timeout_after_first_part() -> None:
    buffer: ReassemblyBuffer[str] = ReassemblyBuffer(timeout_s=300, pending_max=10)
    assert buffer.next_deadline() is None
    buffer.add(source="a", destination="b", concat=ConcatInfo(1, 3, 2), part="p2", now=100.0)
    buffer.add(source="a", destination="b", concat=ConcatInfo(1, 3, 1), part="p1", now=350.0)
    buffer.add(source="x", destination="b", concat=ConcatInfo(1, 2, 1), part="x1", now=200.0)
    assert buffer.next_deadline() == 400.0
    assert buffer.expire(399.9) == []
    [dropped] = buffer.expire(400.0)
    assert dropped.reason is DropReason.EXPIRED
    assert dropped.received == ((1, "p1"), (2, "p2"))
    assert dropped.missing == (3,)
    assert dropped.first_seen == 100.0
    assert len(buffer) == 1
    assert buffer.next_deadline() == 500.0
    assert [d.key.source for d in buffer.expire(10_000)] == ["x"]


def test_eviction_of_the_oldest_when_full() -> None:
    buffer: ReassemblyBuffer[str] = ReassemblyBuffer(timeout_s=300, pending_max=2)
    for ref in (1, 2):
        result = buffer.add(source="a", destination="b", concat=ConcatInfo(ref, 2, 1), part="p", now=ref)
        assert result.evicted is None
    result = buffer.add(source="a", destination="b", concat=ConcatInfo(3, 2, 1), part="p", now=3)
    assert result.evicted is not None
    assert result.evicted.key.ref == 1
    assert result.evicted.reason is DropReason.EVICTED
    assert len(buffer) == 2
    # adding to an existing entry never evicts
    assert (
        buffer.add(source="a", destination="b", concat=ConcatInfo(2, 2, 2), part="q", now=4).evicted is None
    )


def test_parts_max_bounds_an_entry() -> None:
    buffer: ReassemblyBuffer[str] = ReassemblyBuffer(timeout_s=300, pending_max=10, parts_max=10)
    with pytest.raises(TextError) as err:
        buffer.add(source="a", destination="b", concat=ConcatInfo(1, 11, 1), part="p", now=0)
    assert err.value.code is TextErrorCode.TOO_LONG


def test_bad_buffer_limits() -> None:
    with pytest.raises(ValueError, match="timeout_s"):
        ReassemblyBuffer[str](timeout_s=0, pending_max=1)


def test_plan_udh_reassemble_round_trip() -> None:
    text = "Привет, это длинное сообщение 😀 " * 5
    plan = plan_segments(text, segments_max=10)
    buffer: ReassemblyBuffer[bytes] = ReassemblyBuffer(timeout_s=300, pending_max=10)
    results = []
    for message in reversed(udh_short_messages(plan.segments, ref=0x1234, ref_16bit=True)):
        header, payload = split_udh(message)
        assert header.concat is not None
        results.append(buffer.add(source="s", destination="d", concat=header.concat, part=payload, now=0))
    complete = results[-1].complete
    assert complete is not None
    assert decode_payload(b"".join(complete.parts), plan.data_coding) == text

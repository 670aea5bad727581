"""Concatenated SMS: UDH concat elements, SAR values, and a pure reassembly buffer.

A long message arrives as parts in one of two forms, normalised here to one :class:`ConcatInfo`
``(ref, total, seq)``:

* **UDH** (``esm_class & 0x40``): ``short_message`` starts with a user data header; IEI 0x00 is
  ``ref(1) total(1) seq(1)``, IEI 0x08 is ``ref(2) total(1) seq(1)``. Other IEs (port addressing,
  ...) are kept in :attr:`UserDataHeader.elements`; when a concat IE repeats, the last one wins
  (TS 23.040 §9.2.3.24). A UDH part must say ``total >= 2``: a "1 of 1" header is rejected as the
  brief requires.
* **SAR TLVs** (``sar_msg_ref_num``, ``sar_total_segments``, ``sar_segment_seqnum``): the SMPP codec
  parses them and hands the three ints to :func:`concat_from_sar`; ``total == 1`` is a whole message.

:class:`ReassemblyBuffer` is sans-I/O: time is the ``now`` argument (seconds, non-decreasing, e.g.
``time.monotonic()``), parts are any payload type ``T`` (join raw bytes and decode once, so an ESC
or surrogate pair split by a sloppy sender still decodes). Entries are keyed by
``(source, destination, ref, total)``; duplicates are ignored (first copy wins), but a copy arriving
after its message completed opens a new entry that will expire: deduplicate completed messages
upstream (by operator message id). An entry expires
``timeout_s`` after its *first* part, so memory is bounded by ``pending_max`` entries of at most
``parts_max`` parts each; when full, the oldest entry is evicted. Expired and evicted entries are
returned so the caller can count, log or bill what it received. Bad values raise :class:`TextError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from smsbilling.domain.text.errors import TextError, TextErrorCode

IEI_CONCAT_8BIT: Final = 0x00
IEI_CONCAT_16BIT: Final = 0x08
REF_8BIT_MAX: Final = 0xFF
REF_16BIT_MAX: Final = 0xFFFF
TOTAL_MAX: Final = 0xFF
_CONCAT_IE_LENGTH: Final = {IEI_CONCAT_8BIT: 3, IEI_CONCAT_16BIT: 4}


@dataclass(frozen=True, slots=True)
class ConcatInfo:
    """One part's place in a long message: reference, number of parts, 1-based sequence number."""

    ref: int
    total: int
    seq: int

    def __post_init__(self) -> None:
        if not 0 <= self.ref <= REF_16BIT_MAX:
            raise TextError(TextErrorCode.BAD_PART, f"reference {self.ref} is not 0..{REF_16BIT_MAX}")
        if not 1 <= self.total <= TOTAL_MAX:
            raise TextError(TextErrorCode.BAD_PART, f"total {self.total} is not 1..{TOTAL_MAX}")
        if not 1 <= self.seq <= self.total:
            raise TextError(TextErrorCode.BAD_PART, f"part {self.seq} of {self.total} is out of range")


@dataclass(frozen=True, slots=True)
class InformationElement:
    iei: int
    data: bytes


@dataclass(frozen=True, slots=True)
class UserDataHeader:
    """A parsed UDH: the concat values if present, every other IE, and its size with UDHL."""

    concat: ConcatInfo | None
    elements: tuple[InformationElement, ...]
    length: int  # octets, UDHL included: gsm7_fill_bits(length) for packed GSM text


def concat_from_sar(ref: int, total: int, seq: int) -> ConcatInfo:
    """Normalise SAR TLV values (ref 0..65535, total 1..255, seq 1..total)."""
    return ConcatInfo(ref=ref, total=total, seq=seq)


def split_udh(short_message: bytes) -> tuple[UserDataHeader, bytes]:
    """Parse the UDH at the start of ``short_message``; returns it and the payload after it."""
    if not short_message:
        raise TextError(TextErrorCode.BAD_UDH, "UDHI is set but the message is empty")
    end = 1 + short_message[0]
    if end > len(short_message):
        raise TextError(
            TextErrorCode.BAD_UDH, f"UDHL {short_message[0]} exceeds the {len(short_message)}-octet message"
        )
    elements = _parse_elements(short_message[1:end])
    concat = None
    others: list[InformationElement] = []
    for element in elements:
        if element.iei in _CONCAT_IE_LENGTH:
            concat = _parse_concat(element)
        else:
            others.append(element)
    return UserDataHeader(concat=concat, elements=tuple(others), length=end), short_message[end:]


def _parse_elements(header: bytes) -> list[InformationElement]:
    elements: list[InformationElement] = []
    pos = 0
    while pos < len(header):
        if pos + 2 > len(header):
            raise TextError(TextErrorCode.BAD_UDH, f"truncated information element at offset {pos + 1}")
        iei, length = header[pos], header[pos + 1]
        data = header[pos + 2 : pos + 2 + length]
        if len(data) != length:
            raise TextError(TextErrorCode.BAD_UDH, f"IE 0x{iei:02x} length {length} overruns the UDH")
        elements.append(InformationElement(iei=iei, data=data))
        pos += 2 + length
    return elements


def _parse_concat(element: InformationElement) -> ConcatInfo:
    data = element.data
    if len(data) != _CONCAT_IE_LENGTH[element.iei]:
        raise TextError(TextErrorCode.BAD_UDH, f"concat IE 0x{element.iei:02x} has length {len(data)}")
    ref = data[0] if element.iei == IEI_CONCAT_8BIT else int.from_bytes(data[:2], "big")
    total, seq = data[-2], data[-1]
    if total < 2:
        raise TextError(TextErrorCode.BAD_PART, f"a concat UDH must have total >= 2, got {total}")
    return ConcatInfo(ref=ref, total=total, seq=seq)


def build_udh(concat: ConcatInfo, *, ref_16bit: bool = False) -> bytes:
    """``05 00 03 RR TT SS`` or, with ``ref_16bit``, ``06 08 04 RRRR TT SS``."""
    if ref_16bit:
        return (
            bytes((6, IEI_CONCAT_16BIT, 4))
            + concat.ref.to_bytes(2, "big")
            + bytes((concat.total, concat.seq))
        )
    if concat.ref > REF_8BIT_MAX:
        raise TextError(TextErrorCode.BAD_PART, f"reference {concat.ref} needs a 16-bit concat IE")
    return bytes((5, IEI_CONCAT_8BIT, 3, concat.ref, concat.total, concat.seq))


def udh_short_messages(
    segments: tuple[bytes, ...], ref: int, *, ref_16bit: bool = False
) -> tuple[bytes, ...]:
    """``short_message`` values for a plan's segments: a single one unchanged, parts with a UDH.

    Use the same ``ref_16bit`` as :func:`~smsbilling.domain.text.plan_segments` so the parts fit.
    """
    if len(segments) <= 1:
        return segments
    total = len(segments)
    return tuple(
        build_udh(ConcatInfo(ref=ref, total=total, seq=seq), ref_16bit=ref_16bit) + segment
        for seq, segment in enumerate(segments, start=1)
    )


class DropReason(StrEnum):
    EXPIRED = "expired"
    EVICTED = "evicted"


@dataclass(frozen=True, slots=True)
class PartKey:
    source: str
    destination: str
    ref: int
    total: int


@dataclass(frozen=True, slots=True)
class Reassembled[T]:
    """All parts of a long message, in sequence order."""

    key: PartKey
    parts: tuple[T, ...]
    first_seen: float


@dataclass(frozen=True, slots=True)
class Incomplete[T]:
    """An entry dropped before completion, with the parts it had (``(seq, part)`` in order)."""

    key: PartKey
    received: tuple[tuple[int, T], ...]
    first_seen: float
    reason: DropReason

    @property
    def missing(self) -> tuple[int, ...]:
        have = {seq for seq, _ in self.received}
        return tuple(seq for seq in range(1, self.key.total + 1) if seq not in have)


@dataclass(frozen=True, slots=True)
class AddResult[T]:
    complete: Reassembled[T] | None = None
    evicted: Incomplete[T] | None = None
    duplicate: bool = False


@dataclass(slots=True)
class _Pending[T]:
    first_seen: float
    parts: dict[int, T] = field(default_factory=dict)


class ReassemblyBuffer[T]:
    """Collects the parts of long messages in any order (see the module docstring)."""

    def __init__(self, *, timeout_s: float, pending_max: int, parts_max: int = TOTAL_MAX) -> None:
        if timeout_s <= 0 or pending_max <= 0 or not 1 <= parts_max <= TOTAL_MAX:
            raise ValueError("timeout_s and pending_max must be > 0, parts_max 1..255")
        self._timeout_s = timeout_s
        self._pending_max = pending_max
        self._parts_max = parts_max
        self._pending: dict[PartKey, _Pending[T]] = {}  # insertion order = age order

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, *, source: str, destination: str, concat: ConcatInfo, part: T, now: float) -> AddResult[T]:
        """Store one part; the result carries the whole message once the last part is in."""
        if concat.total > self._parts_max:
            raise TextError(
                TextErrorCode.TOO_LONG, f"{concat.total} parts announced, the limit is {self._parts_max}"
            )
        key = PartKey(source=source, destination=destination, ref=concat.ref, total=concat.total)
        if concat.total == 1:
            return AddResult(complete=Reassembled(key=key, parts=(part,), first_seen=now))
        evicted = None
        entry = self._pending.get(key)
        if entry is None:
            evicted = self._evict_if_full()
            entry = self._pending[key] = _Pending(first_seen=now)
        elif concat.seq in entry.parts:
            return AddResult(duplicate=True)
        entry.parts[concat.seq] = part
        if len(entry.parts) < concat.total:
            return AddResult(evicted=evicted)
        del self._pending[key]
        parts = tuple(entry.parts[seq] for seq in range(1, concat.total + 1))
        return AddResult(
            complete=Reassembled(key=key, parts=parts, first_seen=entry.first_seen), evicted=evicted
        )

    def expire(self, now: float) -> list[Incomplete[T]]:
        """Drop and return the entries whose first part is ``timeout_s`` or more before ``now``."""
        dropped: list[Incomplete[T]] = []
        for key, entry in list(self._pending.items()):
            if now - entry.first_seen < self._timeout_s:
                break  # entries are in age order
            del self._pending[key]
            dropped.append(_incomplete(key, entry, DropReason.EXPIRED))
        return dropped

    def next_deadline(self) -> float | None:
        """When :meth:`expire` next has work: the one timer an adapter needs to arm."""
        oldest = next(iter(self._pending.values()), None)
        return None if oldest is None else oldest.first_seen + self._timeout_s

    def _evict_if_full(self) -> Incomplete[T] | None:
        if len(self._pending) < self._pending_max:
            return None
        key = next(iter(self._pending))
        return _incomplete(key, self._pending.pop(key), DropReason.EVICTED)


def _incomplete[T](key: PartKey, entry: _Pending[T], reason: DropReason) -> Incomplete[T]:
    received = tuple(sorted(entry.parts.items(), key=lambda item: item[0]))
    return Incomplete(key=key, received=received, first_seen=entry.first_seen, reason=reason)

"""Choosing the encoding of an outgoing text and cutting it into SMS segments.

Capacities (140 octets of user data; a concatenated part loses 6 octets to the 8-bit-reference UDH,
7 to the 16-bit one, plus a fill bit for GSM):

========  ======  =================  ==================
alphabet  single  per part (8-bit)   per part (16-bit)
========  ======  =================  ==================
GSM 7     160     153 septets        152 septets
UCS-2     70      67 code units      66 code units
========  ======  =================  ==================

GSM 7-bit is chosen when every character is in GSM 03.38 (extension characters cost 2 septets),
UCS-2 (UTF-16BE) otherwise. Parts are filled greedily and a cut is moved back by one unit when it
would separate ESC from its code or a high surrogate from its low surrogate, so every segment
decodes on its own and joining the decoded segments gives the original text (the "81 €" case is
152 + 10). Grapheme clusters (combining marks, ZWJ emoji) may still be cut, as every SMSC does.

Segments are payloads without a UDH: unpacked septets or UTF-16BE bytes. The caller prefixes the UDH
(:func:`smsbilling.domain.concat.build_udh`) or sends SAR TLVs, with the same ``ref_16bit`` choice.
An empty text is one empty segment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from smsbilling.domain.text.coding import DATA_CODING, Alphabet, decode_text, encode_text
from smsbilling.domain.text.errors import TextError, TextErrorCode
from smsbilling.domain.text.gsm7 import ESC, is_gsm7

SEGMENTS_MAX_LIMIT: Final = 255  # a concat IE counts parts in one octet

# (single, per part with 8-bit ref, per part with 16-bit ref), in septets or UTF-16 code units.
_CAPACITY: Final[dict[Alphabet, tuple[int, int, int]]] = {
    Alphabet.GSM7: (160, 153, 152),
    Alphabet.UCS2: (70, 67, 66),
}
_UNIT_OCTETS: Final[dict[Alphabet, int]] = {Alphabet.GSM7: 1, Alphabet.UCS2: 2}
_HIGH_SURROGATE_FIRST_OCTETS: Final = range(0xD8, 0xDC)
_SINGLE_UNITS_MAX: Final = max(cap[0] for cap in _CAPACITY.values())


@dataclass(frozen=True, slots=True)
class SegmentPlan:
    """How a text goes out: alphabet, its ``data_coding`` and the segment payloads in order."""

    alphabet: Alphabet
    segments: tuple[bytes, ...]
    units: int  # septets (GSM 7) or UTF-16 code units (UCS-2) of the whole text

    @property
    def data_coding(self) -> int:
        return DATA_CODING[self.alphabet]

    @property
    def count(self) -> int:
        return len(self.segments)

    @property
    def concatenated(self) -> bool:
        """True when the parts need a concat UDH or SAR TLVs."""
        return len(self.segments) > 1

    def texts(self) -> tuple[str, ...]:
        """The text of each segment (each decodes on its own: cuts never split a pair)."""
        return tuple(decode_text(segment, self.alphabet) for segment in self.segments)


def capacity(alphabet: Alphabet, *, ref_16bit: bool = False) -> tuple[int, int]:
    """(units in a single message, units per concatenated part) for GSM 7 or UCS-2."""
    single, part8, part16 = _CAPACITY[alphabet]
    return single, part16 if ref_16bit else part8


def choose_alphabet(text: str, *, force_ucs2: bool = False) -> Alphabet:
    """GSM 7-bit when the text allows it (cheaper: 160 vs 70), UCS-2 otherwise."""
    return Alphabet.UCS2 if force_ucs2 or not is_gsm7(text) else Alphabet.GSM7


def plan_segments(
    text: str,
    *,
    segments_max: int,
    force_ucs2: bool = False,
    ref_16bit: bool = False,
    text_chars_max: int | None = None,
) -> SegmentPlan:
    """Encode ``text`` and cut it into segments; more than ``segments_max`` raises ``TOO_LONG``."""
    if not 1 <= segments_max <= SEGMENTS_MAX_LIMIT:
        raise ValueError(f"segments_max must be 1..{SEGMENTS_MAX_LIMIT}, got {segments_max}")
    _check_length_bound(text, segments_max, text_chars_max)
    alphabet = choose_alphabet(text, force_ucs2=force_ucs2)
    data = encode_text(text, alphabet)
    ends = _segment_ends(data, alphabet, ref_16bit=ref_16bit)
    if len(ends) > segments_max:
        raise TextError(
            TextErrorCode.TOO_LONG,
            f"text needs {len(ends)} {alphabet.value} segments "
            f"({len(data) // _UNIT_OCTETS[alphabet]} units), the limit is {segments_max}",
        )
    starts = [0, *ends[:-1]]
    segments = tuple(data[start:end] for start, end in zip(starts, ends, strict=True))
    return SegmentPlan(alphabet=alphabet, segments=segments, units=len(data) // _UNIT_OCTETS[alphabet])


def count_segments(text: str, *, force_ucs2: bool = False, ref_16bit: bool = False) -> int:
    """How many segments ``text`` costs, for pricing; no limit applied. Same cuts as the plan."""
    alphabet = choose_alphabet(text, force_ucs2=force_ucs2)
    return len(_segment_ends(encode_text(text, alphabet), alphabet, ref_16bit=ref_16bit))


def _check_length_bound(text: str, segments_max: int, text_chars_max: int | None) -> None:
    """Refuse huge texts before encoding them: every character costs at least one unit."""
    if text_chars_max is not None and len(text) > text_chars_max:
        raise TextError(
            TextErrorCode.TOO_LONG, f"text has {len(text)} characters, the limit is {text_chars_max}"
        )
    if len(text) > _SINGLE_UNITS_MAX * segments_max:
        raise TextError(
            TextErrorCode.TOO_LONG,
            f"text has {len(text)} characters, more than {segments_max} segments can hold",
        )


def _segment_ends(data: bytes, alphabet: Alphabet, *, ref_16bit: bool) -> list[int]:
    """End offsets of each segment; a text that fits one message is one segment."""
    single, part = capacity(alphabet, ref_16bit=ref_16bit)
    unit = _UNIT_OCTETS[alphabet]
    if len(data) <= single * unit:
        return [len(data)]
    ends: list[int] = []
    start = 0
    while start < len(data):
        end = start + part * unit
        if end < len(data) and _splits_pair(data, end, alphabet):
            end -= unit
        end = min(end, len(data))
        ends.append(end)
        start = end
    return ends


def _splits_pair(data: bytes, end: int, alphabet: Alphabet) -> bool:
    """True when cutting before ``end`` separates ESC+code or a surrogate pair.

    Our own encoders emit 0x1B only as the first septet of a pair and 0xD8-0xDB as the first octet
    of a code unit only for a high surrogate, so the last unit alone decides.
    """
    if alphabet is Alphabet.GSM7:
        return data[end - 1] == ESC
    return data[end - 2] in _HIGH_SURROGATE_FIRST_OCTETS

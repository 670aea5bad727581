"""An MO's content: its place in a long message, and its text once all parts are in. Pure.

An operator link hands over each MO (or each part of a long one) as ``text`` (already decoded)
or ``payload_hex`` (raw ``short_message`` octets without the UDH, GSM 7-bit unpacked for
``data_coding`` 0) plus, for a part, ``udh_hex`` or the SAR values. :func:`part_of` reads one
message into a :class:`Part`; :func:`join` turns the parts of a long message (in sequence order)
into its text. Raw parts that share one ``data_coding`` are joined as octets and decoded once, so
a GSM escape or a UTF-16 surrogate pair split across parts by a sloppy sender still decodes;
otherwise each part is decoded on its own and the texts are joined.

Invalid octets in a text alphabet become U+FFFD (``errors="replace"``: a paid MO is not lost over
one bad octet). What cannot be text at all (8-bit binary, an unsupported ``data_coding``, a
malformed UDH or SAR value) raises :class:`~smsbilling.domain.text.TextError` and nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from smsbilling.domain.concat import ConcatInfo, concat_from_sar, split_udh
from smsbilling.domain.text import TextError, TextErrorCode, decode_payload


@dataclass(frozen=True, slots=True)
class Part:
    """One message's content as received (either ``text`` or ``payload``)."""

    concat: ConcatInfo | None
    """None: a whole message. Otherwise its place in a long one (``total >= 2``)."""
    text: str | None = None
    payload: bytes | None = None
    data_coding: int = 0

    def decoded(self) -> str:
        if self.payload is None:
            return self.text or ""
        return decode_payload(self.payload, self.data_coding, errors="replace")


def part_of(
    *,
    text: str,
    payload_hex: str | None,
    data_coding: int | None,
    udh_hex: str | None,
    sar_ref: int | None,
    sar_total: int | None,
    sar_seq: int | None,
) -> Part:
    """Read one received MO (the fields of ``InboundMo`` / ``StoredMo``)."""
    concat: ConcatInfo | None = None
    if udh_hex:
        header, rest = split_udh(bytes.fromhex(udh_hex))
        if rest:
            raise TextError(TextErrorCode.BAD_UDH, f"{len(rest)} octets follow the UDH in udh_hex")
        concat = header.concat
    sar = (sar_ref, sar_total, sar_seq)
    if concat is None and any(value is not None for value in sar):
        if sar_ref is None or sar_total is None or sar_seq is None:
            raise TextError(TextErrorCode.BAD_PART, "sar_ref, sar_total and sar_seq go together")
        info = concat_from_sar(sar_ref, sar_total, sar_seq)
        concat = info if info.total > 1 else None
    if payload_hex is None:
        return Part(concat, text=text)
    coding = 0 if data_coding is None else data_coding
    part = Part(concat, payload=bytes.fromhex(payload_hex), data_coding=coding)
    part.decoded()  # refuse binary / unsupported codings now, before the part is stored
    return part


def join(parts: Sequence[Part]) -> str:
    """The text of a long message from its parts in sequence order."""
    codings = {part.data_coding for part in parts}
    if parts and all(part.payload is not None for part in parts) and len(codings) == 1:
        joined = b"".join(part.payload or b"" for part in parts)
        return decode_payload(joined, codings.pop(), errors="replace")
    return "".join(part.decoded() for part in parts)


@dataclass(frozen=True, slots=True)
class Completion:
    """Who completed a long message, with which parts (in sequence order, by message id)."""

    owner: str
    """The message id of the part that completed the set: it carries the whole message on."""
    members: tuple[str, ...]
    parts: tuple[Part, ...]
    window_end: int
    """Epoch seconds: after this the set's parts have timed out and its key may be reused."""


def concat_set_key(link_id: str, msisdn: str, concat: ConcatInfo) -> str:
    """The reassembly set of a part: ``CONCAT#<link>#<msisdn>#<ref>#<total>``."""
    return f"CONCAT#{link_id}#{msisdn}#{concat.ref}#{concat.total}"

"""Encoding and addressing an MT: the text cut into SMS parts, a partner's submit as sent, the operator.

Pure (no I/O, no settings): the MT processor (logic/mt_sending.py) builds its records with it, and
the partner API (logic/api_send.py) counts the parts it charges credits for with the very same
function, so what is reserved is what is sent.

* :func:`encode_text`: GSM 7-bit 160/153 or UCS-2 70/67 characters per part, never splitting an
  escape or a surrogate pair; parts of a long text carry a concatenation UDH whose reference comes
  from the message id (:func:`concat_ref`), so a retry cuts the same parts.
* :func:`encode_submitted`: a partner's ``short_message`` (SMPP): its own UDH kept as sent, plain
  text re-cut, binary passed whole when it fits one SMS.

* :func:`operator_for`: the operator whose subscribers' number range starts the destination.

What is the sender's fault (a text too long or not encodable, a bad UDH) raises
:class:`EncodingRefused` with the reason the MT is rejected with.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from smsbilling.domain.concat import split_udh, udh_short_messages
from smsbilling.domain.entities import Operator
from smsbilling.domain.msisdn import AddressKind, MsisdnError, parse_address
from smsbilling.domain.text import (
    Alphabet,
    TextError,
    TextErrorCode,
    alphabet_for,
    decode_payload,
    plan_segments,
)

UDHI: Final = 0x40  # esm_class: the short_message starts with a user data header
SHORT_MESSAGE_OCTETS_MAX: Final = 255  # what one OutboundSubmit carries
BINARY_OCTETS_MAX: Final = 140  # one SMS of user data: a binary message we pass through whole
_SOURCE_TON_NPI: Final = {
    AddressKind.SHORT_CODE: (3, 0),
    AddressKind.MSISDN: (1, 1),
    AddressKind.ALPHANUMERIC: (5, 0),
}


class EncodingRefused(ValueError):
    """The sender's fault: the MT cannot be encoded as asked (the message is the reason)."""


@dataclass(frozen=True, slots=True)
class EncodedMt:
    parts_hex: tuple[str, ...]
    """Each part's ``short_message`` (its UDH included when ``esm_class`` has :data:`UDHI`)."""
    data_coding: int
    esm_class: int
    text: str | None
    """The text as sent; None for binary data."""

    @property
    def parts(self) -> int:
        return len(self.parts_hex)


def concat_ref(message_id: str) -> int:
    """The 8-bit concatenation reference of a long MT: fixed by its id, so every retry agrees."""
    return hashlib.sha256(message_id.encode()).digest()[0]


def encode_text(
    message_id: str, text: str, *, segments_max: int, text_chars_max: int, force_ucs2: bool = False
) -> EncodedMt:
    """Cut ``text`` into parts (GSM 7-bit when it fits, else UCS-2); EncodingRefused if it cannot be."""
    try:
        plan = plan_segments(
            text, segments_max=segments_max, text_chars_max=text_chars_max, force_ucs2=force_ucs2
        )
    except TextError as error:
        raise EncodingRefused(f"text: {error}") from None
    parts = udh_short_messages(plan.segments, concat_ref(message_id))
    return EncodedMt(tuple(p.hex() for p in parts), plan.data_coding, UDHI if plan.concatenated else 0, text)


def encode_submitted(
    message_id: str,
    payload: bytes,
    *,
    esm_class: int,
    data_coding: int,
    segments_max: int,
    text_chars_max: int,
) -> EncodedMt:
    """A partner's short_message: its own UDH kept as sent; plain text re-cut; binary passed whole."""
    if esm_class & UDHI:
        try:
            _, body = split_udh(payload)
        except TextError as error:
            raise EncodingRefused(f"udh: {error}") from None
        if len(payload) > SHORT_MESSAGE_OCTETS_MAX:
            raise EncodingRefused(
                f"short_message of {len(payload)} octets with a UDH, at most {SHORT_MESSAGE_OCTETS_MAX}"
            )
        return EncodedMt((payload.hex(),), data_coding, UDHI, _text_or_none(body, data_coding))
    try:
        text = decode_payload(payload, data_coding)
    except TextError as error:
        if error.code not in (TextErrorCode.BINARY, TextErrorCode.UNSUPPORTED_CODING):
            raise EncodingRefused(f"short_message: {error}") from None
        if len(payload) > BINARY_OCTETS_MAX:
            size = f"{len(payload)} octets of data_coding 0x{data_coding:02x}"
            raise EncodingRefused(f"{size}: at most {BINARY_OCTETS_MAX}") from None
        return EncodedMt((payload.hex(),), data_coding, 0, None)
    if not text:
        raise EncodingRefused("empty message")
    return encode_text(
        message_id,
        text,
        segments_max=segments_max,
        text_chars_max=text_chars_max,
        force_ucs2=alphabet_for(data_coding) is Alphabet.UCS2,
    )


def _text_or_none(body: bytes, data_coding: int) -> str | None:
    try:
        return decode_payload(body, data_coding, errors="replace")
    except TextError:
        return None


def source_ton_npi(source: str) -> tuple[int, int]:
    """TON/NPI of a sender we write: short codes network-specific, as the bridge's outbox does."""
    try:
        return _SOURCE_TON_NPI[parse_address(source, default_country_code=None).kind]
    except MsisdnError:
        return 0, 0


def operator_for(msisdn: str, operators: Iterable[Operator]) -> str | None:
    """The operator whose longest ``msisdn_prefixes`` entry starts the number (None: nobody's)."""
    best: tuple[int, str] | None = None
    for operator in operators:
        for prefix in operator.msisdn_prefixes:
            if prefix and msisdn.startswith(prefix) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), operator.operator_id)
    return best[1] if best else None

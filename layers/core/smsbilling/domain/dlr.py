"""Delivery receipts (DLRs): one platform vocabulary for every protocol's states, the SMPP receipt
text (parse and build), and the operator message-id keys receipts are correlated by. Pure.

Data flow: an adapter reads a protocol's receipt (SMPP ``deliver_sm`` with TLVs and/or the text
form, UCP OT 53 ``Dst``, CIMD2 op 23 parameter 061, a Kannel ``dlr-url`` ``type``) -> the one
``status_from_*`` function of that protocol -> a :class:`DlrStatus`; the operator message id ->
:func:`receipt_id_key` (the id from the submit response went through :func:`submit_id_key` with the
same link setting) -> the MT record (:mod:`smsbilling.domain.mt`). Outbound, :func:`partner_receipt`
and :func:`format_receipt` build the standard text a partner's SMPP client expects, beside the
``message_state`` TLV from :data:`MESSAGE_STATE_FOR`.

Policy, argued in docs/adr/0003-mt-lifecycle-and-dlrs.md: a value we do not recognise maps to
:attr:`DlrStatus.UNKNOWN`, which is *not* final, so nothing is charged or voided on a word we cannot
read (the MT then settles by a later receipt or by expiry). Only :class:`DlrError` escapes for bad
input; the fuzz tests assert exactly that.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Final, Literal

RECEIPT_CHARS_MAX: Final = 1024  # longer receipt text is read up to here (the keys come first)
OPERATOR_ID_CHARS_MAX: Final = 65  # SMPP message_id is a C-octet string of up to 65 octets
RECEIPT_TEXT_CHARS_MAX: Final = 20  # the original text quoted in a receipt we build


class DlrError(ValueError):
    """Bad receipt input: unreadable receipt text, an unusable operator message id."""


class DlrStatus(StrEnum):
    """The platform's DLR states. The first three are intermediate, the rest final."""

    ACCEPTED = "accepted"  # the SMSC has the message (SMSC ack, ACCEPTD)
    ENROUTE = "enroute"  # in the network: buffered, scheduled, being retried
    UNKNOWN = "unknown"  # the state cannot be told; wait for a final receipt or the expiry
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"  # undeliverable, deleted, cancelled, skipped, failed
    EXPIRED = "expired"  # the validity period ran out in the network
    REJECTED = "rejected"  # refused by the SMSC or the network

    @property
    def is_final(self) -> bool:
        return self in FINAL_DLR_STATUSES


FINAL_DLR_STATUSES: Final = frozenset(
    {DlrStatus.DELIVERED, DlrStatus.UNDELIVERED, DlrStatus.EXPIRED, DlrStatus.REJECTED}
)

_S = DlrStatus

#: SMPP ``message_state`` (TLV 0x0427, query_sm_resp): 3.4 §5.2.28 defines 1-8, 5.0 §4.7.15 adds 0, 9.
SMPP_MESSAGE_STATE: Final[Mapping[int, DlrStatus]] = MappingProxyType(
    {
        0: _S.ENROUTE,  # SCHEDULED (5.0): delivery not yet attempted
        1: _S.ENROUTE,  # ENROUTE
        2: _S.DELIVERED,  # DELIVERED
        3: _S.EXPIRED,  # EXPIRED
        4: _S.UNDELIVERED,  # DELETED
        5: _S.UNDELIVERED,  # UNDELIVERABLE
        6: _S.ACCEPTED,  # ACCEPTED: in practice "the SMSC has it" (Kannel: buffered)
        7: _S.UNKNOWN,  # UNKNOWN: 5.0 says it "may be intermediate or permanent"
        8: _S.REJECTED,  # REJECTED
        9: _S.UNDELIVERED,  # SKIPPED (5.0): accepted but intentionally not transmitted
    }
)

#: The ``stat:`` word of the receipt text (SMPP 3.4 Appendix B), compared upper-cased.
SMPP_STAT_WORDS: Final[Mapping[str, DlrStatus]] = MappingProxyType(
    {
        "DELIVRD": _S.DELIVERED,
        "EXPIRED": _S.EXPIRED,
        "DELETED": _S.UNDELIVERED,
        "UNDELIV": _S.UNDELIVERED,
        "ACCEPTD": _S.ACCEPTED,
        "UNKNOWN": _S.UNKNOWN,
        "REJECTD": _S.REJECTED,
        "ENROUTE": _S.ENROUTE,
        # seen in the wild; Kannel reads these as "buffered"
        "ACKED": _S.ACCEPTED,
        "BUFFRED": _S.ENROUTE,
        "BUFFERD": _S.ENROUTE,
        # the message_state names spelt out, as some SMSCs write them
        "SCHEDULED": _S.ENROUTE,
        "DELIVERED": _S.DELIVERED,
        "UNDELIVERABLE": _S.UNDELIVERED,
        "ACCEPTED": _S.ACCEPTED,
        "REJECTED": _S.REJECTED,
        "SKIPPED": _S.UNDELIVERED,
    }
)

#: UCP/EMI OT 53 ``Dst`` (delivery status).
UCP_DST: Final[Mapping[int, DlrStatus]] = MappingProxyType(
    {0: _S.DELIVERED, 1: _S.ENROUTE, 2: _S.UNDELIVERED}  # 1 = buffered
)

#: CIMD2 op 23 (delivery status report), parameter 061 status code.
CIMD2_STATUS: Final[Mapping[int, DlrStatus]] = MappingProxyType(
    {
        1: _S.ENROUTE,  # in process
        2: _S.EXPIRED,  # validity period expired
        3: _S.UNDELIVERED,  # delivery failed
        4: _S.DELIVERED,  # delivery successful
        5: _S.ENROUTE,  # no response (the SMSC retries; Kannel reports nothing)
        6: _S.UNDELIVERED,  # last no response
        7: _S.UNDELIVERED,  # message cancelled
        8: _S.UNDELIVERED,  # message deleted
        9: _S.UNDELIVERED,  # message deleted by cancel
    }
)

#: Kannel ``dlr-url`` ``%d`` (the DLR type of one report; dlr-mask is the OR of the wanted ones).
KANNEL_DLR_TYPE: Final[Mapping[int, DlrStatus]] = MappingProxyType(
    {1: _S.DELIVERED, 2: _S.UNDELIVERED, 4: _S.ENROUTE, 8: _S.ACCEPTED, 16: _S.REJECTED}
)

#: What we write for a state, in receipts we send (partners' SMPP clients).
STAT_WORD_FOR: Final[Mapping[DlrStatus, str]] = MappingProxyType(
    {
        _S.ACCEPTED: "ACCEPTD",
        _S.ENROUTE: "ENROUTE",
        _S.UNKNOWN: "UNKNOWN",
        _S.DELIVERED: "DELIVRD",
        _S.UNDELIVERED: "UNDELIV",
        _S.EXPIRED: "EXPIRED",
        _S.REJECTED: "REJECTD",
    }
)
MESSAGE_STATE_FOR: Final[Mapping[DlrStatus, int]] = MappingProxyType(
    {
        _S.ENROUTE: 1,
        _S.DELIVERED: 2,
        _S.EXPIRED: 3,
        _S.UNDELIVERED: 5,
        _S.ACCEPTED: 6,
        _S.UNKNOWN: 7,
        _S.REJECTED: 8,
    }
)

_CODE = re.compile(r"[0-9]{1,5}")


def _lookup(table: Mapping[int, DlrStatus], value: int | str | None) -> DlrStatus:
    if isinstance(value, str):
        text = value.strip()
        value = int(text) if _CODE.fullmatch(text) else None
    return table.get(value, DlrStatus.UNKNOWN) if value is not None else DlrStatus.UNKNOWN


def status_from_message_state(value: int | None) -> DlrStatus:
    return _lookup(SMPP_MESSAGE_STATE, value)


def status_from_stat(word: str | None) -> DlrStatus:
    return SMPP_STAT_WORDS.get(word.strip().upper(), DlrStatus.UNKNOWN) if word else DlrStatus.UNKNOWN


def status_from_ucp_dst(value: int | str | None) -> DlrStatus:
    return _lookup(UCP_DST, value)


def status_from_cimd2(value: int | str | None) -> DlrStatus:
    return _lookup(CIMD2_STATUS, value)


def status_from_kannel_type(value: int | str | None) -> DlrStatus:
    return _lookup(KANNEL_DLR_TYPE, value)


# --- the SMPP receipt text ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Receipt:
    """The fields of ``id:… sub:… dlvrd:… submit date:… done date:… stat:… err:… text:…``.

    ``None`` is a field the receipt did not carry (or carried in a form we could not read: a bad
    date or count is dropped, not fatal, since the id and the state are what matter). Dates are
    naive: SMSCs write local time without a zone. ``stat`` is upper-cased, ``text`` verbatim.
    """

    message_id: str
    stat: str | None = None
    err: str | None = None
    sub: int | None = None
    dlvrd: int | None = None
    submit_date: datetime | None = None
    done_date: datetime | None = None
    text: str | None = None

    @property
    def status(self) -> DlrStatus:
        return status_from_stat(self.stat)


_KEY = re.compile(r"(?<!\S)(id|sub|dlvrd|submit[ _]*date|done[ _]*date|stat|err|text)[ \t]*:", re.IGNORECASE)
_TOKEN = re.compile(r"[!-~]+")  # printable ASCII, no space
_COUNT = re.compile(r"[0-9]{1,3}")
_DATE = re.compile(r"([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})?")


def _split_fields(text: str) -> dict[str, str]:
    """Field name -> raw value; the first occurrence wins, and ``text:`` takes the rest."""
    fields: dict[str, str] = {}
    matches = list(_KEY.finditer(text))
    for index, match in enumerate(matches):
        name = re.sub(r"[ _]", "", match.group(1).lower())
        if name == "text":
            fields.setdefault(name, text[match.end() :])
            break
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        fields.setdefault(name, text[match.end() : end])
    return fields


def _first_token(raw: str | None) -> str | None:
    words = raw.split() if raw else []
    return words[0] if words and _TOKEN.fullmatch(words[0]) else None


def _count(raw: str | None) -> int | None:
    token = _first_token(raw)
    return int(token) if token and _COUNT.fullmatch(token) else None


def _date(raw: str | None) -> datetime | None:
    token = _first_token(raw)
    match = _DATE.fullmatch(token) if token else None
    if match is None:
        return None
    yy, mo, dd, hh, mi, ss = (int(g or 0) for g in match.groups())
    try:
        return datetime(2000 + yy, mo, dd, hh, mi, ss)  # SMSC local time, zone unknown
    except ValueError:
        return None


def parse_receipt(raw: str) -> Receipt:
    """Read the SMPP receipt text form; :class:`DlrError` when it carries no usable ``id``.

    Tolerates key case (``Text:``, ``STAT:``), extra spaces, missing fields, any field order before
    ``text:``, 10- or 12-digit dates, and ids in any form (they stay opaque strings here).
    """
    fields = _split_fields(raw[:RECEIPT_CHARS_MAX])
    message_id = _first_token(fields.get("id"))
    if message_id is None:
        raise DlrError("receipt without a readable id")
    if len(message_id) > OPERATOR_ID_CHARS_MAX:
        raise DlrError(f"receipt id longer than {OPERATOR_ID_CHARS_MAX} characters")
    stat = _first_token(fields.get("stat"))
    return Receipt(
        message_id=message_id,
        stat=stat.upper() if stat else None,
        err=_first_token(fields.get("err")),
        sub=_count(fields.get("sub")),
        dlvrd=_count(fields.get("dlvrd")),
        submit_date=_date(fields.get("submitdate")),
        done_date=_date(fields.get("donedate")),
        text=fields.get("text"),
    )


def _format_date(value: datetime, digits: Literal[10, 12]) -> str:
    if not 2000 <= value.year <= 2099:
        raise DlrError(f"receipt date {value:%Y} outside 2000-2099")
    return value.strftime("%y%m%d%H%M%S" if digits == 12 else "%y%m%d%H%M")


def _checked_token(name: str, value: str) -> str:
    if not _TOKEN.fullmatch(value):
        raise DlrError(f"receipt {name} {value!r} is not printable ASCII without spaces")
    return value


def _checked_count(name: str, value: int) -> str:
    if not 0 <= value <= 999:
        raise DlrError(f"receipt {name} {value} outside 0-999")
    return f"{value:03d}"


def format_receipt(receipt: Receipt, *, date_digits: Literal[10, 12] = 10) -> str:
    """The standard text form, fields in the standard order, absent fields left out.

    Dates are written ``YYMMDDhhmm`` (the 3.4 form) unless ``date_digits=12`` asks for seconds.
    """
    if len(receipt.message_id) > OPERATOR_ID_CHARS_MAX:
        raise DlrError(f"receipt id longer than {OPERATOR_ID_CHARS_MAX} characters")
    out = [f"id:{_checked_token('id', receipt.message_id)}"]
    if receipt.sub is not None:
        out.append(f"sub:{_checked_count('sub', receipt.sub)}")
    if receipt.dlvrd is not None:
        out.append(f"dlvrd:{_checked_count('dlvrd', receipt.dlvrd)}")
    if receipt.submit_date is not None:
        out.append(f"submit date:{_format_date(receipt.submit_date, date_digits)}")
    if receipt.done_date is not None:
        out.append(f"done date:{_format_date(receipt.done_date, date_digits)}")
    if receipt.stat is not None:
        out.append(f"stat:{_checked_token('stat', receipt.stat)}")
    if receipt.err is not None:
        out.append(f"err:{_checked_token('err', receipt.err)}")
    if receipt.text is not None:
        out.append(f"text:{receipt.text}")
    text = " ".join(out)
    if len(text) > RECEIPT_CHARS_MAX:
        raise DlrError(f"receipt text longer than {RECEIPT_CHARS_MAX} characters")
    return text


def partner_receipt(
    message_id: str,
    status: DlrStatus,
    *,
    submitted_at: datetime,
    done_at: datetime,
    err: str = "000",
    text: str = "",
) -> Receipt:
    """The receipt we send a partner for its message (one part: ``sub:001``).

    ``text`` is quoted (first 20 characters) only when the partner wrote the message: never pass
    text the platform wrote for the partner's subscriber, such as a one-time password.
    """
    return Receipt(
        message_id=message_id,
        stat=STAT_WORD_FOR[status],
        err=err,
        sub=1,
        dlvrd=1 if status is DlrStatus.DELIVERED else 0,
        submit_date=submitted_at,
        done_date=done_at,
        text=text[:RECEIPT_TEXT_CHARS_MAX],
    )


@dataclass(frozen=True, slots=True)
class SmppReport:
    """What an SMPP receipt says: whose message, which state, the error code if any."""

    operator_id: str
    status: DlrStatus
    err: str | None


def smpp_report(text: str | None, receipted_message_id: str | None, message_state: int | None) -> SmppReport:
    """Combine an SMPP receipt's TLVs and text: the TLVs win where present (as Kannel does).

    Raises :class:`DlrError` when neither names the message or neither carries a state.
    """
    receipt: Receipt | None = None
    if text:
        try:
            receipt = parse_receipt(text)
        except DlrError:
            receipt = None
    tlv_id = (receipted_message_id or "").strip(" \x00")
    operator_id = tlv_id or (receipt.message_id if receipt else "")
    if not operator_id:
        raise DlrError("receipt names no message (no receipted_message_id, no id: in the text)")
    if message_state is not None:
        status = status_from_message_state(message_state)
    elif receipt is not None and receipt.stat is not None:
        status = receipt.status
    else:
        raise DlrError("receipt carries no state (no message_state, no stat: in the text)")
    return SmppReport(operator_id, status, receipt.err if receipt else None)


# --- operator message-id correlation ----------------------------------------------------------------


class IdFormat(StrEnum):
    """How a link writes the operator message id in submit responses and in receipts.

    The numeric formats match Kannel's ``msg-id-type`` (0x00 ``dec``, 0x01 ``hex_to_dec``, 0x02
    ``dec_to_hex``, 0x03 ``hex``); ``as_is`` (the default) compares the trimmed strings exactly.
    """

    AS_IS = "as_is"
    DEC = "dec"  # both decimal, zero padding may differ
    HEX = "hex"  # both hexadecimal, case and zero padding may differ
    HEX_TO_DEC = "hex_to_dec"  # submit response in hex, receipts in decimal
    DEC_TO_HEX = "dec_to_hex"  # submit response in decimal, receipts in hex


# (base of the submit-response id, base of the receipt id); None = an opaque string
_ID_BASES: Final[Mapping[IdFormat, tuple[int | None, int | None]]] = MappingProxyType(
    {
        IdFormat.AS_IS: (None, None),
        IdFormat.DEC: (10, 10),
        IdFormat.HEX: (16, 16),
        IdFormat.HEX_TO_DEC: (16, 10),
        IdFormat.DEC_TO_HEX: (10, 16),
    }
)
_MSISDN = re.compile(r"[0-9]{1,20}")
_SCTS = re.compile(r"[0-9]{12}")
_DIGITS: Final[Mapping[int, re.Pattern[str]]] = MappingProxyType(
    {10: re.compile(r"[0-9]+"), 16: re.compile(r"[0-9a-fA-F]+")}
)


def _trimmed(operator_id: str) -> str:
    trimmed = operator_id.strip(" \t\r\n\x00")
    if not trimmed:
        raise DlrError("empty operator message id")
    if len(trimmed) > OPERATOR_ID_CHARS_MAX:
        raise DlrError(f"operator message id longer than {OPERATOR_ID_CHARS_MAX} characters")
    return trimmed


def _key(operator_id: str, base: int | None) -> str:
    trimmed = _trimmed(operator_id)
    if base is None or not _DIGITS[base].fullmatch(trimmed):
        return trimmed  # never all decimal digits when base is set, so never equal to a number's key
    return str(int(trimmed, base))


def submit_id_key(operator_id: str, fmt: IdFormat) -> str:
    """The correlation key of the id a submit response gave (store the MT's part under it)."""
    return _key(operator_id, _ID_BASES[fmt][0])


def receipt_id_key(operator_id: str, fmt: IdFormat) -> str:
    """The correlation key of the id a receipt names (look the part up by it)."""
    return _key(operator_id, _ID_BASES[fmt][1])


def candidate_keys(operator_id: str) -> tuple[str, ...]:
    """Every form the id could stand for: itself lower-cased, its decimal value read as decimal
    and as hex, and its hex form. For diagnosis only (see :func:`suggest_id_formats`): storing
    under all of them would let two messages meet (decimal ``10`` read as hex is ``16``)."""
    trimmed = _trimmed(operator_id)
    keys = [trimmed.lower()]
    if _DIGITS[10].fullmatch(trimmed):
        keys += [str(int(trimmed)), format(int(trimmed), "x")]
    if _DIGITS[16].fullmatch(trimmed):
        keys.append(str(int(trimmed, 16)))
    return tuple(dict.fromkeys(keys))


def suggest_id_formats(submit_id: str, receipt_id: str) -> tuple[IdFormat, ...]:
    """The link settings under which this submit-response id and this receipt id meet."""
    return tuple(fmt for fmt in IdFormat if submit_id_key(submit_id, fmt) == receipt_id_key(receipt_id, fmt))


def scts_operator_id(recipient: str, scts: str) -> str:
    """The operator message id of a UCP or CIMD2 MT: recipient and service-centre time stamp.

    UCP's OT 51 ack carries ``AdC:SCTS`` and its OT 53 the same SCTS with the recipient in OAdC;
    CIMD2's submit response and op 23 carry 021 and 060. Both sides build the id with this.
    """
    number, stamp = recipient.strip().removeprefix("+"), scts.strip()
    if not (_MSISDN.fullmatch(number) and _SCTS.fullmatch(stamp)):
        raise DlrError(f"bad recipient or SCTS for correlation: {recipient!r}, {scts!r}")
    return f"{number}:{stamp}"

"""The operator HTTP link's intake forms, mapped to the platform's models. Pure (no I/O, no clock).

Three forms besides the JSON MO (:class:`~smsbilling.domain.inbound.InboundMo` as it is):

* **Kannel MO** (``get-url`` / ``post-url`` of an ``sms-service``): query parameters filled from
  Kannel's escape codes -> :class:`InboundMo` (:func:`kannel_mo`).
* **JSON DLR** (:class:`JsonDlr`) -> :class:`~smsbilling.contracts.DlrReceived` (:func:`json_dlr`).
* **Kannel DLR** (``dlr-url``): ``type=%d&id=%F&answer=%A`` -> ``DlrReceived`` (:func:`kannel_dlr`).

Every refusal is a :class:`FormRejected` (the handler answers 422 with the fields at fault);
nothing else escapes for any input. The wire formats, and why they are shaped so, are in
``docs/operator-http.md`` ("Inbound").

Bytes in query values. API Gateway's REST API hands the function query values already
percent-decoded *and* decoded as UTF-8; the raw query string is not available. Kannel's ``%b``
carries the message's bytes (UTF-16BE for UCS-2, anything for 8-bit). The bytes are recovered
as ``value.encode("utf-8")``, which is exact whenever they were valid UTF-8 (Cyrillic UCS-2 is:
every octet is below 0x80); when they were not, the decoder left U+FFFD in the value and the
message is refused as ``payload_not_recoverable`` rather than stored wrong. Kannel's
``mo-recode = true`` avoids the question for UCS-2 (it sends such messages as UTF-8 text).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from smsbilling.contracts import DlrReceived
from smsbilling.domain.dlr import (
    KANNEL_DLR_TYPE,
    SMPP_STAT_WORDS,
    DlrError,
    DlrStatus,
    parse_receipt,
    receipt_id_key,
    status_from_kannel_type,
)
from smsbilling.domain.entities import OperatorLink
from smsbilling.domain.ids import derived_id
from smsbilling.domain.inbound import InboundMo

KANNEL_CODING_7BIT: Final = 0  # %c: Kannel 1.4's DC_7BIT (its text is already UTF-8)
KANNEL_CODING_8BIT: Final = 1  # DC_8BIT: binary
KANNEL_CODING_UCS2: Final = 2  # DC_UCS2: UTF-16BE
SMPP_DATA_CODING: Final[Mapping[int, int]] = {KANNEL_CODING_8BIT: 0x04, KANNEL_CODING_UCS2: 0x08}
PAYLOAD_BYTES_MAX: Final = 1400  # InboundMo.payload_hex holds 2 * 1400 hex digits
UDH_BYTES_MAX: Final = 140
OPERATOR_ID_CHARS_MAX: Final = 64  # DlrReceived.operator_message_id
ERROR_CODE_CHARS_MAX: Final = 16
TOKEN_PARAM: Final = "token"  # noqa: S105 - a parameter name, not a secret
_REPLACEMENT = "\ufffd"
_UTF8_NAMES: Final = frozenset({"", "utf-8", "utf8", "gsm", "us-ascii", "ascii"})
_CHARSETS: Final[Mapping[str, str]] = {
    "iso-8859-1": "latin-1",
    "latin1": "latin-1",
    "windows-1252": "cp1252",
    "cp1252": "cp1252",
    "windows-1251": "cp1251",
    "cp1251": "cp1251",
    "koi8-r": "koi8-r",
    "utf-16be": "utf-16-be",
    "ucs-2": "utf-16-be",
}
_NACK_CODE = re.compile(r"NACK/(0x[0-9a-fA-F]{1,8}|[0-9]{1,10})\b")


class FormRejected(ValueError):
    """A form the platform will not accept: ``code`` is stable, ``errors`` name the fields at fault."""

    def __init__(self, code: str, detail: str, errors: Sequence[Mapping[str, str]] = ()) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.errors = [dict(error) for error in errors]


def _field(name: str, reason: str) -> dict[str, str]:
    return {"field": name, "reason": reason}


def _validated[M: BaseModel](model: type[M], values: Mapping[str, object], what: str) -> M:
    try:
        return model.model_validate(values)
    except ValidationError as error:
        errors = [
            _field(".".join(str(part) for part in item["loc"]), str(item["msg"])) for item in error.errors()
        ]
        raise FormRejected("validation_failed", f"The {what} is not valid.", errors) from None


def single_values(params: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """One value per parameter; a repeated parameter is refused (which one would Kannel mean?)."""
    repeated = sorted(name for name, values in params.items() if len(values) > 1)
    if repeated:
        errors = [_field(name, "given more than once") for name in repeated]
        raise FormRejected("validation_failed", "A query parameter is repeated.", errors)
    return {name: values[0] for name, values in params.items() if values}


def query_token(params: Mapping[str, Sequence[str]]) -> str | None:
    """The link token of a Kannel form (``token=``): its get-url and dlr-url cannot send headers."""
    values = params.get(TOKEN_PARAM) or ()
    return values[0] if len(values) == 1 and values[0] else None


def _without_empty(values: Mapping[str, str], optional: Sequence[str]) -> dict[str, str]:
    """Kannel expands an escape with nothing to say (``%u`` without UDH) to an empty value."""
    return {name: value for name, value in values.items() if value or name not in optional}


def _recovered_bytes(value: str, name: str) -> bytes:
    if _REPLACEMENT in value:
        raise FormRejected(
            "payload_not_recoverable",
            f"The bytes of {name!r} were not valid UTF-8 and were altered on the way; send UCS-2 as "
            "text (Kannel: mo-recode = true) or use the JSON form with payload_hex.",
            [_field(name, "not recoverable as bytes")],
        )
    return value.encode("utf-8")


# --- Kannel MO ------------------------------------------------------------------------------------


class KannelMoParams(BaseModel):
    """The query of a Kannel ``get-url`` / ``post-url`` (see docs/operator-http.md for the escapes)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    token: str | None = Field(default=None, max_length=256, description="checked before the form")
    id: str = Field(min_length=1, max_length=64, description="%I: Kannel's message id (retries keep it)")
    from_: str = Field(alias="from", min_length=1, max_length=32, description="%p: the subscriber")
    to: str = Field(min_length=1, max_length=32, description="%P: the short number")
    text: str | None = Field(default=None, max_length=2000, description="%b (or %a); POST: else the body")
    coding: int = Field(default=KANNEL_CODING_7BIT, ge=0, le=2, description="%c")
    charset: str = Field(default="", max_length=32, description="%C")
    udh: str | None = Field(default=None, max_length=2 * UDH_BYTES_MAX, description="%u")
    smsc: str | None = Field(default=None, max_length=64, description="%i: logged only")


_KANNEL_MO_OPTIONAL: Final = ("text", "coding", "charset", "udh", "smsc", "token")


def _message_bytes(form: KannelMoParams, body: str | bytes | None) -> bytes | str:
    """The message as exact bytes, or as a str decoded by the gateway (bytes still to recover)."""
    if form.text is not None:
        return form.text
    return body if body is not None else ""


def _as_bytes(message: bytes | str, name: str) -> bytes:
    return message if isinstance(message, bytes) else _recovered_bytes(message, name)


def _text(message: bytes | str, charset: str, name: str) -> str:
    label = charset.strip().lower()
    if label in _UTF8_NAMES and isinstance(message, str):
        return message
    codec = "utf-8" if label in _UTF8_NAMES else _CHARSETS.get(label)
    if codec is None:
        raise FormRejected(
            "unsupported_charset", f"Charset {charset!r} is not supported.", [_field("charset", "unknown")]
        )
    try:
        return _as_bytes(message, name).decode(codec)
    except UnicodeDecodeError:
        raise FormRejected(
            "payload_not_recoverable", f"The message is not valid {charset}.", [_field(name, "undecodable")]
        ) from None


def kannel_mo(params: Mapping[str, Sequence[str]], *, body: str | bytes | None = None) -> InboundMo:
    """The MO a Kannel ``get-url`` (``body`` None) or ``post-url`` (its body) describes.

    ``body`` is ``bytes`` when exact (a base64 body) and ``str`` when the gateway decoded it.
    """
    form = _validated(
        KannelMoParams, _without_empty(single_values(params), _KANNEL_MO_OPTIONAL), "Kannel MO query"
    )
    name = "text" if form.text is not None else "body"
    message = _message_bytes(form, body)
    fields: dict[str, Any] = {"operator_message_id": form.id, "source": form.from_, "destination": form.to}
    if form.udh is not None:
        udh = _recovered_bytes(form.udh, "udh")
        if not 0 < len(udh) <= UDH_BYTES_MAX or udh[0] != len(udh) - 1:
            raise FormRejected(
                "invalid_udh", "The UDH's length octet does not match it.", [_field("udh", "bad")]
            )
        fields["udh_hex"] = udh.hex()
    if form.coding == KANNEL_CODING_7BIT:
        fields["text"] = _text(message, form.charset, name)
    else:
        payload = _as_bytes(message, name)
        if len(payload) > PAYLOAD_BYTES_MAX or (form.coding == KANNEL_CODING_UCS2 and len(payload) % 2):
            reason = "longer than one message" if len(payload) > PAYLOAD_BYTES_MAX else "odd UCS-2 length"
            raise FormRejected("invalid_payload", f"The payload is {reason}.", [_field(name, reason)])
        fields |= {"payload_hex": payload.hex(), "data_coding": SMPP_DATA_CODING[form.coding]}
    return _validated(InboundMo, fields, "Kannel MO")


# --- DLRs -----------------------------------------------------------------------------------------


class JsonDlr(BaseModel):
    """``POST /operator/links/{link_id}/dlr``: one receipt for one operator message id."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    operator_message_id: str = Field(min_length=1, max_length=OPERATOR_ID_CHARS_MAX)
    status: str | None = Field(
        default=None,
        max_length=16,
        description="a DLR state (delivered...) or an SMPP stat word (DELIVRD...)",
    )
    error_code: str | None = Field(default=None, max_length=ERROR_CODE_CHARS_MAX)
    receipt: str | None = Field(default=None, max_length=1024, description="SMPP receipt text")


class KannelDlrParams(BaseModel):
    """The query of a Kannel ``dlr-url``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    token: str | None = Field(default=None, max_length=256)
    type: int = Field(description="%d: 1 delivered, 2 undelivered, 4 buffered, 8 SMSC ack, 16 SMSC reject")
    id: str | None = Field(default=None, max_length=OPERATOR_ID_CHARS_MAX, description="%F: the SMSC's id")
    answer: str | None = Field(default=None, max_length=1024, description="%A: the SMSC's receipt text")


def status_word(word: str) -> DlrStatus | None:
    """A platform DLR state or an SMPP stat word, in any case; None if it is neither."""
    cleaned = word.strip()
    try:
        return DlrStatus(cleaned.lower())
    except ValueError:
        return SMPP_STAT_WORDS.get(cleaned.upper())


def dlr_event(
    link: OperatorLink, operator_message_id: str, status: DlrStatus, error_code: str, now: datetime
) -> DlrReceived:
    """The DLR event; its ``receipt_id`` is derived from (link, id key, status): a repeat is one event."""
    trimmed = operator_message_id.strip(" \t\r\n\x00")
    try:
        if len(trimmed) > OPERATOR_ID_CHARS_MAX:
            raise DlrError(f"operator message id longer than {OPERATOR_ID_CHARS_MAX} characters")
        key = receipt_id_key(trimmed, link.dlr_id_format)
    except DlrError as error:
        errors = [_field("operator_message_id", str(error))]
        raise FormRejected("invalid_operator_message_id", str(error), errors) from None
    return DlrReceived(
        receipt_id=derived_id("dlr", link.link_id, key, status.value),
        link_id=link.link_id,
        operator_message_id=trimmed,
        status=status,
        error_code=error_code[:ERROR_CODE_CHARS_MAX],
        received_at=now,
    )


def json_dlr(link: OperatorLink, dlr: JsonDlr, *, now: datetime) -> DlrReceived:
    receipt = None
    if dlr.receipt is not None:
        try:
            receipt = parse_receipt(dlr.receipt)
        except DlrError as error:
            raise FormRejected("invalid_receipt", str(error), [_field("receipt", str(error))]) from None
    if dlr.status is not None:
        status = status_word(dlr.status)
        if status is None:
            raise FormRejected(
                "unknown_status", f"Unknown DLR status {dlr.status!r}.", [_field("status", "unknown")]
            )
    elif receipt is not None and receipt.stat is not None:
        status = receipt.status
    else:
        raise FormRejected(
            "missing_status", "A status (or a receipt with stat:) is required.", [_field("status", "missing")]
        )
    error_code = dlr.error_code if dlr.error_code is not None else (receipt.err if receipt else None)
    return dlr_event(link, dlr.operator_message_id, status, error_code or "", now)


def kannel_dlr(link: OperatorLink, params: Mapping[str, Sequence[str]], *, now: datetime) -> DlrReceived:
    """The DLR a Kannel ``dlr-url`` reports. ``type`` decides the state; ``answer`` adds the error
    code (``err:`` of a receipt, the code of a ``NACK/``) and, when ``id`` is empty, the id."""
    form = _validated(
        KannelDlrParams, _without_empty(single_values(params), ("id", "answer", "token")), "Kannel DLR query"
    )
    if form.type not in KANNEL_DLR_TYPE:
        known = ", ".join(str(value) for value in KANNEL_DLR_TYPE)
        raise FormRejected(
            "unknown_status", f"Kannel DLR type must be one of {known}.", [_field("type", "unknown")]
        )
    answer = form.answer or ""
    receipt = None
    try:
        receipt = parse_receipt(answer) if answer else None
    except DlrError:
        receipt = None  # "ACK/", "NACK/0x45/...": no receipt text, and none is needed
    operator_id = form.id or (receipt.message_id if receipt else None)
    if not operator_id:
        raise FormRejected(
            "missing_operator_message_id", "No id (%F) and no id: in the answer.", [_field("id", "missing")]
        )
    nack = _NACK_CODE.search(answer)
    error_code = (receipt.err if receipt else None) or (nack.group(1) if nack else "")
    return dlr_event(link, operator_id, status_from_kannel_type(form.type), error_code or "", now)

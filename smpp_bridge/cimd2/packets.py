"""Every CIMD2 packet this core speaks as a frozen dataclass, with its parameter layout.

Requests are one class each (``Login``, ``SubmitMessage``, ``DeliverMessage``, ...); every
response, the general error response (98) and the NACK (99) are :class:`Response` with the opcode
in the object. ``number`` is the packet number; every other field has a default and ``None``
means "parameter absent" (``""`` is a parameter present and empty). Values are the wire forms:
addresses, times and strings as ``str``; hex parameters (032 UDH, 034 binary user data) as the
decoded ``bytes``; 033 user data as the *wire* string, escapes and all (text conversion lives in
:mod:`.text`). Parameters a packet does not type are kept, in wire order, in ``extra``.

``layout`` lists ``(name, number, kind, size, low, high, code)``: ``size`` is the maximum length
on the wire, ``low``/``high`` bound integers, ``code`` is the error code to answer when the
parameter is malformed. The codec interprets these layouts; a unit test checks each layout
against the dataclass fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Final

from . import constants as c

# parameter kinds
INT: Final = 0  # decimal integer (a leading "-" allowed where low < 0)
STRING: Final = 1  # printable ASCII, 32-126
ADDRESS: Final = 2  # digits, optionally a leading "+"
TIME: Final = 3  # yyMMddhhmmss
HEX: Final = 4  # hex pairs -> bytes
USER_DATA: Final = 5  # any octet but the framing ones, kept as the wire string

ParamSpec = tuple[str, int, int, int, int, int, int]
Layout = tuple[ParamSpec, ...]

_FORMAT: Final = int(c.Code.PARAMETER_FORMATTING_ERROR)
UD_CHARS_MAX: Final = 480  # 160 characters, each possibly a 3-character escape
HEX_CHARS_MAX: Final = 280  # 140 octets


def _p(
    name: str, number: int, kind: int, size: int, code: int = _FORMAT, *, low: int = 0, high: int = 0
) -> ParamSpec:
    return (name, number, kind, size, low, high, int(code))


_DESTINATION: Final = _p(
    "destination_address", c.P_DESTINATION_ADDRESS, ADDRESS, 20, c.Code.INCORRECT_DESTINATION_ADDRESS
)
_ORIGINATOR: Final = _p(
    "originating_address", c.P_ORIGINATING_ADDRESS, ADDRESS, 20, c.Code.INCORRECT_ORIGINATOR_ADDRESS
)
_ALPHA_ORIGINATOR: Final = _p(
    "alphanumeric_originating_address",
    c.P_ALPHANUMERIC_ORIGINATING_ADDRESS,
    STRING,
    11,
    c.Code.INCORRECT_ORIGINATOR_ADDRESS,
)
_DCS: Final = _p("data_coding_scheme", c.P_DATA_CODING_SCHEME, INT, 3, c.Code.INCORRECT_DCS, low=0, high=255)
_UDH: Final = _p(
    "user_data_header", c.P_USER_DATA_HEADER, HEX, HEX_CHARS_MAX, c.Code.INCORRECT_USER_DATA_COMBINATION
)
_UD: Final = _p("user_data", c.P_USER_DATA, USER_DATA, UD_CHARS_MAX, c.Code.USER_DATA_SYNTAX_ERROR)
_UDB: Final = _p(
    "user_data_binary", c.P_USER_DATA_BINARY, HEX, HEX_CHARS_MAX, c.Code.INCORRECT_USER_DATA_COMBINATION
)
_MORE: Final = _p("more_messages_to_send", c.P_MORE_MESSAGES_TO_SEND, INT, 1, _FORMAT, low=0, high=1)
_PID: Final = _p(
    "protocol_identifier", c.P_PROTOCOL_IDENTIFIER, INT, 3, c.Code.INCORRECT_PID, low=0, high=255
)
_REPLY_PATH: Final = _p("reply_path", c.P_REPLY_PATH, INT, 1, c.Code.INCORRECT_REPLY_PATH, low=0, high=1)
_TARIFF: Final = _p("tariff_class", c.P_TARIFF_CLASS, INT, 2, c.Code.INCORRECT_TARIFF_CLASS, low=0, high=99)
_SERVICE: Final = _p(
    "service_description",
    c.P_SERVICE_DESCRIPTION,
    INT,
    2,
    c.Code.INCORRECT_SERVICE_DESCRIPTION,
    low=0,
    high=9,
)
_MC_TIMESTAMP: Final = _p("mc_timestamp", c.P_MC_TIMESTAMP, TIME, 12)


@dataclass(frozen=True)
class Packet:
    """Base of the request packets."""

    opcode: ClassVar[int] = -1
    layout: ClassVar[Layout] = ()
    number: int = 0
    extra: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True)
class Login(Packet):
    opcode: ClassVar[int] = c.LOGIN
    user_identity: str | None = None
    password: str | None = field(default=None, repr=False)

    layout: ClassVar[Layout] = (
        _p("user_identity", c.P_USER_IDENTITY, STRING, 32, c.Code.INVALID_LOGIN),
        _p("password", c.P_PASSWORD, STRING, 32, c.Code.INVALID_LOGIN),
    )


@dataclass(frozen=True)
class Logout(Packet):
    opcode: ClassVar[int] = c.LOGOUT


@dataclass(frozen=True)
class Alive(Packet):
    opcode: ClassVar[int] = c.ALIVE


@dataclass(frozen=True)
class SubmitMessage(Packet):
    """Op 03: the SME submits a message (MT). One destination (Kannel's choice too)."""

    opcode: ClassVar[int] = c.SUBMIT_MESSAGE
    destination_address: str | None = None
    originating_address: str | None = None
    alphanumeric_originating_address: str | None = None
    data_coding_scheme: int | None = None
    user_data_header: bytes | None = None
    user_data: str | None = None
    user_data_binary: bytes | None = None
    more_messages_to_send: int | None = None
    validity_period_relative: int | None = None
    validity_period_absolute: str | None = None
    protocol_identifier: int | None = None
    first_delivery_time_relative: int | None = None
    first_delivery_time_absolute: str | None = None
    reply_path: int | None = None
    status_report_request: int | None = None
    cancel_enabled: int | None = None
    tariff_class: int | None = None
    service_description: int | None = None
    priority: int | None = None

    layout: ClassVar[Layout] = (
        _DESTINATION,
        _ORIGINATOR,
        _ALPHA_ORIGINATOR,
        _DCS,
        _UDH,
        _UD,
        _UDB,
        _MORE,
        _p(
            "validity_period_relative",
            c.P_VALIDITY_PERIOD_RELATIVE,
            INT,
            3,
            c.Code.INCORRECT_VALIDITY_PERIOD,
            low=-1,
            high=255,
        ),
        _p(
            "validity_period_absolute",
            c.P_VALIDITY_PERIOD_ABSOLUTE,
            TIME,
            12,
            c.Code.INCORRECT_VALIDITY_PERIOD,
        ),
        _PID,
        _p(
            "first_delivery_time_relative",
            c.P_FIRST_DELIVERY_TIME_RELATIVE,
            INT,
            3,
            c.Code.INCORRECT_FIRST_DELIVERY,
            low=-1,
            high=255,
        ),
        _p(
            "first_delivery_time_absolute",
            c.P_FIRST_DELIVERY_TIME_ABSOLUTE,
            TIME,
            12,
            c.Code.INCORRECT_FIRST_DELIVERY,
        ),
        _REPLY_PATH,
        _p(
            "status_report_request",
            c.P_STATUS_REPORT_REQUEST,
            INT,
            2,
            c.Code.INCORRECT_STATUS_REPORT_REQUEST,
            low=0,
            high=63,
        ),
        _p("cancel_enabled", c.P_CANCEL_ENABLED, INT, 1, c.Code.INCORRECT_CANCEL_ENABLED, low=0, high=1),
        _TARIFF,
        _SERVICE,
        _p("priority", c.P_PRIORITY, INT, 1, c.Code.INCORRECT_PRIORITY, low=1, high=9),
    )


@dataclass(frozen=True)
class DeliverMessage(Packet):
    """Op 20: the MC delivers a message (MO) to the SME."""

    opcode: ClassVar[int] = c.DELIVER_MESSAGE
    destination_address: str | None = None
    originating_address: str | None = None
    originating_imsi: str | None = None
    alphanumeric_originating_address: str | None = None
    originated_visited_msc: str | None = None
    data_coding_scheme: int | None = None
    user_data_header: bytes | None = None
    user_data: str | None = None
    user_data_binary: bytes | None = None
    more_messages_to_send: int | None = None
    protocol_identifier: int | None = None
    reply_path: int | None = None
    mc_timestamp: str | None = None
    tariff_class: int | None = None
    service_description: int | None = None

    layout: ClassVar[Layout] = (
        _DESTINATION,
        _ORIGINATOR,
        _p("originating_imsi", c.P_ORIGINATING_IMSI, ADDRESS, 20),
        _ALPHA_ORIGINATOR,
        _p("originated_visited_msc", c.P_ORIGINATED_VISITED_MSC, ADDRESS, 20),
        _DCS,
        _UDH,
        _UD,
        _UDB,
        _MORE,
        _PID,
        _REPLY_PATH,
        _MC_TIMESTAMP,
        _TARIFF,
        _SERVICE,
    )


@dataclass(frozen=True)
class DeliverStatusReport(Packet):
    """Op 23: the MC reports the fate of a submitted message (DLR): the recipient (021) and the MC
    time stamp (060) of the submit name it, 061 says what happened; see :mod:`.dlr`."""

    opcode: ClassVar[int] = c.DELIVER_STATUS_REPORT
    destination_address: str | None = None
    originating_address: str | None = None
    user_data: str | None = None
    mc_timestamp: str | None = None
    status_code: int | None = None
    status_error_code: int | None = None
    discharge_time: str | None = None

    layout: ClassVar[Layout] = (
        _DESTINATION,
        _ORIGINATOR,
        _UD,
        _MC_TIMESTAMP,
        _p("status_code", c.P_STATUS_CODE, INT, 2, _FORMAT, low=0, high=99),
        _p("status_error_code", c.P_STATUS_ERROR_CODE, INT, 3, _FORMAT, low=0, high=999),
        _p("discharge_time", c.P_DISCHARGE_TIME, TIME, 12),
    )


_ERROR_CODE: Final = _p("error_code", c.P_ERROR_CODE, INT, 3, _FORMAT, low=0, high=999)
_ERROR_TEXT: Final = _p("error_text", c.P_ERROR_TEXT, STRING, 64)
RESPONSE_LAYOUT: Final[Layout] = (_ERROR_CODE, _ERROR_TEXT)
SUBMIT_RESPONSE_LAYOUT: Final[Layout] = (_DESTINATION, _MC_TIMESTAMP, _ERROR_CODE, _ERROR_TEXT)


@dataclass(frozen=True)
class Response:
    """A response (request opcode + 50), a general error response (98) or a NACK (99).

    ``error_code`` absent (or 0) is a positive response. Only the submit response (53) carries
    ``destination_address`` and ``mc_timestamp``, the operator's key for status reports.
    """

    opcode: int
    number: int = 0
    extra: tuple[tuple[int, str], ...] = ()
    destination_address: str | None = None
    mc_timestamp: str | None = None
    error_code: int | None = None
    error_text: str | None = None

    @property
    def ok(self) -> bool:
        return self.opcode < c.GENERAL_ERROR_RESPONSE and not self.error_code

    @property
    def layout(self) -> Layout:
        return (
            SUBMIT_RESPONSE_LAYOUT if self.opcode == c.SUBMIT_MESSAGE + c.RESPONSE_OFFSET else RESPONSE_LAYOUT
        )


Request = Login | Logout | Alive | SubmitMessage | DeliverMessage | DeliverStatusReport
Message = Packet | Response

REQUEST_CLASSES: Final[dict[int, type[Packet]]] = {
    cls.opcode: cls for cls in (Login, Logout, Alive, SubmitMessage, DeliverMessage, DeliverStatusReport)
}
RESPONSE_OPCODES: Final = frozenset(
    {opcode + c.RESPONSE_OFFSET for opcode in REQUEST_CLASSES} | {c.GENERAL_ERROR_RESPONSE, c.NACK}
)

"""CIMD2 (Nokia CIMD 2.0) numbers: framing, operation codes, parameters, error and status codes.

Sources: the CIMD interface specification (Nokia SMS Center; header format and examples quoted in
the tests), cross-checked with Kannel's ``gw/smsc/smsc_cimd2.c`` for the parameter table, the
error codes and the packet-number rule (the SME numbers its requests odd, 001-255; the MC even,
000-254; a response repeats the number of its request).
"""

from __future__ import annotations

from enum import IntEnum
from types import MappingProxyType
from typing import Final

STX: Final = 0x02
ETX: Final = 0x03
TAB: Final = 0x09
COLON: Final = 0x3A

HEADER_SIZE: Final = 7  # "OO:NNN" + TAB
NUMBER_MAX: Final = 255
FRAME_SIZE_BYTES_MAX_DEFAULT: Final = 4096

# Operation codes.
LOGIN: Final = 1
LOGOUT: Final = 2
SUBMIT_MESSAGE: Final = 3
DELIVER_MESSAGE: Final = 20
DELIVER_STATUS_REPORT: Final = 23
ALIVE: Final = 40
RESPONSE_OFFSET: Final = 50  # a request's opcode + 50 is its response
GENERAL_ERROR_RESPONSE: Final = 98
NACK: Final = 99

REQUEST_NAMES: Final = MappingProxyType(
    {
        LOGIN: "login",
        LOGOUT: "logout",
        SUBMIT_MESSAGE: "submit_message",
        4: "enquire_message_status",
        5: "delivery_request",
        6: "cancel_message",
        8: "set",
        9: "get",
        DELIVER_MESSAGE: "deliver_message",
        DELIVER_STATUS_REPORT: "deliver_status_report",
        ALIVE: "alive",
    }
)


def opcode_name(opcode: int) -> str:
    if opcode in REQUEST_NAMES:
        return REQUEST_NAMES[opcode]
    if opcode - RESPONSE_OFFSET in REQUEST_NAMES:
        return f"{REQUEST_NAMES[opcode - RESPONSE_OFFSET]}_response"
    return {GENERAL_ERROR_RESPONSE: "general_error_response", NACK: "nack"}.get(opcode, f"op_{opcode:02d}")


# Parameter numbers.
P_USER_IDENTITY: Final = 10
P_PASSWORD: Final = 11
P_DESTINATION_ADDRESS: Final = 21
P_ORIGINATING_ADDRESS: Final = 23
P_ORIGINATING_IMSI: Final = 26
P_ALPHANUMERIC_ORIGINATING_ADDRESS: Final = 27
P_ORIGINATED_VISITED_MSC: Final = 28
P_DATA_CODING_SCHEME: Final = 30
P_USER_DATA_HEADER: Final = 32
P_USER_DATA: Final = 33
P_USER_DATA_BINARY: Final = 34
P_MORE_MESSAGES_TO_SEND: Final = 44
P_VALIDITY_PERIOD_RELATIVE: Final = 50
P_VALIDITY_PERIOD_ABSOLUTE: Final = 51
P_PROTOCOL_IDENTIFIER: Final = 52
P_FIRST_DELIVERY_TIME_RELATIVE: Final = 53
P_FIRST_DELIVERY_TIME_ABSOLUTE: Final = 54
P_REPLY_PATH: Final = 55
P_STATUS_REPORT_REQUEST: Final = 56
P_CANCEL_ENABLED: Final = 58
P_MC_TIMESTAMP: Final = 60
P_STATUS_CODE: Final = 61
P_STATUS_ERROR_CODE: Final = 62
P_DISCHARGE_TIME: Final = 63
P_TARIFF_CLASS: Final = 64
P_SERVICE_DESCRIPTION: Final = 65
P_PRIORITY: Final = 67
P_ERROR_CODE: Final = 900
P_ERROR_TEXT: Final = 901


class Code(IntEnum):
    """Error codes (parameter 900) of responses, general error responses and our refusals."""

    NO_ERROR = 0
    UNEXPECTED_OPERATION = 1
    SYNTAX_ERROR = 2
    UNSUPPORTED_PARAMETER = 3
    CONNECTION_TO_MC_LOST = 4
    NO_RESPONSE_FROM_MC = 5
    GENERAL_SYSTEM_ERROR = 6
    CANNOT_FIND_INFORMATION = 7
    PARAMETER_FORMATTING_ERROR = 8
    REQUESTED_OPERATION_FAILED = 9
    TEMPORARY_CONGESTION = 10
    INVALID_LOGIN = 100
    INCORRECT_ACCESS_TYPE = 101
    TOO_MANY_USERS = 102
    LOGIN_REFUSED = 103
    INCORRECT_DESTINATION_ADDRESS = 300
    INCORRECT_NUMBER_OF_DESTINATIONS = 301
    USER_DATA_SYNTAX_ERROR = 302
    INCORRECT_USER_DATA_COMBINATION = 303
    INCORRECT_DCS = 304
    INCORRECT_VALIDITY_PERIOD = 305
    INCORRECT_ORIGINATOR_ADDRESS = 306
    INCORRECT_PID = 307
    INCORRECT_FIRST_DELIVERY = 308
    INCORRECT_REPLY_PATH = 309
    INCORRECT_STATUS_REPORT_REQUEST = 310
    INCORRECT_CANCEL_ENABLED = 311
    INCORRECT_PRIORITY = 312
    INCORRECT_TARIFF_CLASS = 313
    INCORRECT_SERVICE_DESCRIPTION = 314


def code_name(code: int) -> str:
    try:
        return Code(code).name
    except ValueError:
        return f"CODE_{code:03d}"


#: Status codes (parameter 061) of a delivery status report (op 23); mapped to DLR states by
#: smsbilling.domain.dlr.status_from_cimd2.
STATUS_NAMES: Final = MappingProxyType(
    {
        1: "in process",
        2: "validity period expired",
        3: "delivery failed",
        4: "delivery successful",
        5: "no response",
        6: "last no response",
        7: "message cancelled",
        8: "message deleted",
        9: "message deleted by cancel",
    }
)

# Status report request (parameter 056) bits.
SRR_TEMPORARY_ERROR: Final = 1
SRR_VALIDITY_EXPIRED: Final = 2
SRR_DELIVERY_FAILED: Final = 4
SRR_DELIVERY_SUCCESSFUL: Final = 8
SRR_FINAL_STATES: Final = (
    SRR_VALIDITY_EXPIRED | SRR_DELIVERY_FAILED | SRR_DELIVERY_SUCCESSFUL
)  # 14, as Kannel

"""EMI-UCP 4.x numbers: framing bytes, operation types, error codes (EC), field values.

Sources: the EMI-UCP interface specification (CMG/LogicaCMG, 4.x; section numbers in the tests),
cross-checked with Kannel's ``gw/smsc/emimsg.c`` for the EC list and field counts.
"""

from __future__ import annotations

from enum import IntEnum
from types import MappingProxyType
from typing import Final

STX: Final = 0x02
ETX: Final = 0x03
SEPARATOR: Final = 0x2F  # "/"

TRN_MAX: Final = 99  # two digits: 00-99, so at most 100 operations in flight per direction
LEN_MAX: Final = 99_999  # five digits: octets between STX and ETX
HEADER_SIZE: Final = 14  # "TT/LLLLL/O/OT/"
FRAME_SIZE_MIN: Final = 2 + HEADER_SIZE + 3  # STX, header, "/CC" (no field can be shorter), ETX
FRAME_SIZE_BYTES_MAX_DEFAULT: Final = 4096

# Operation types (OT) this core speaks.
CALL_INPUT: Final = 1
MT_ALERT: Final = 31
SUBMIT_SHORT_MESSAGE: Final = 51
DELIVER_SHORT_MESSAGE: Final = 52
DELIVERY_NOTIFICATION: Final = 53
SESSION_MANAGEMENT: Final = 60

OT_NAMES: Final = MappingProxyType(
    {
        CALL_INPUT: "call_input",
        MT_ALERT: "mt_alert",
        SUBMIT_SHORT_MESSAGE: "submit_short_message",
        DELIVER_SHORT_MESSAGE: "deliver_short_message",
        DELIVERY_NOTIFICATION: "delivery_notification",
        SESSION_MANAGEMENT: "session_management",
    }
)
SERIES_50: Final = frozenset({SUBMIT_SHORT_MESSAGE, DELIVER_SHORT_MESSAGE, DELIVERY_NOTIFICATION})


def ot_name(ot: int) -> str:
    return OT_NAMES.get(ot, f"ot_{ot:02d}")


class Ec(IntEnum):
    """Error codes of a negative result (EMI-UCP 4.x, list of error messages)."""

    CHECKSUM_ERROR = 1
    SYNTAX_ERROR = 2
    OPERATION_NOT_SUPPORTED = 3
    OPERATION_NOT_ALLOWED = 4
    CALL_BARRING_ACTIVE = 5
    ADC_INVALID = 6
    AUTHENTICATION_FAILURE = 7
    LEGITIMISATION_CODE_FAILURE = 8
    GA_NOT_VALID = 9
    REPETITION_NOT_ALLOWED = 10
    LEGITIMISATION_CODE_REPETITION_FAILURE = 11
    PRIORITY_CALL_NOT_ALLOWED = 12
    LEGITIMISATION_CODE_PRIORITY_FAILURE = 13
    URGENT_MESSAGE_NOT_ALLOWED = 14
    LEGITIMISATION_CODE_URGENT_FAILURE = 15
    REVERSE_CHARGING_NOT_ALLOWED = 16
    LEGITIMISATION_CODE_REVERSE_CHARGING_FAILURE = 17
    DEFERRED_DELIVERY_NOT_ALLOWED = 18
    NEW_AC_NOT_VALID = 19
    NEW_LEGITIMISATION_CODE_NOT_VALID = 20
    STANDARD_TEXT_NOT_VALID = 21
    TIME_PERIOD_NOT_VALID = 22
    MESSAGE_TYPE_NOT_SUPPORTED = 23
    MESSAGE_TOO_LONG = 24
    REQUESTED_STANDARD_TEXT_NOT_VALID = 25
    MESSAGE_TYPE_NOT_VALID_FOR_PAGER = 26
    MESSAGE_NOT_FOUND = 27
    SUBSCRIBER_HANG_UP = 30
    FAX_GROUP_NOT_SUPPORTED = 31
    FAX_MESSAGE_TYPE_NOT_SUPPORTED = 32
    ADDRESS_ALREADY_IN_LIST = 33
    ADDRESS_NOT_IN_LIST = 34
    LIST_FULL = 35
    RPID_ALREADY_IN_USE = 36
    DELIVERY_IN_PROGRESS = 37
    MESSAGE_FORWARDED = 38


def ec_name(ec: int) -> str:
    try:
        return Ec(ec).name
    except ValueError:
        return f"EC_{ec:02d}"


# Message types (MT) of the 01 and 50-series operations.
MT_NUMERIC: Final = 2  # NMsg: digits
MT_ALPHANUMERIC: Final = 3  # AMsg: hex-encoded characters
MT_TRANSPARENT: Final = 4  # TMsg: hex-encoded octets, NB = number of bits

# Notification type (NT) bits of OT 51: a sum of these.
NT_DELIVERED: Final = 1  # DN
NT_NON_DELIVERED: Final = 2  # ND
NT_BUFFERED: Final = 4  # BN

# Delivery status (Dst) of OT 53; mapped by smsbilling.domain.dlr.status_from_ucp_dst.
DST_DELIVERED: Final = 0
DST_BUFFERED: Final = 1
DST_NOT_DELIVERED: Final = 2

# Type of originator address (OTOA) of the 50 series.
OTOA_INTERNATIONAL: Final = "1139"
OTOA_ALPHANUMERIC: Final = "5039"

PID_PC_OVER_TCP_IP: Final = "0539"  # what Kannel and most SMTs put in OT 31's PID
STYP_OPEN_SESSION: Final = "1"

# XSer service types (a 50-series field of type-length-value entries).
XSER_GSM_UDH: Final = 0x01
XSER_GSM_DCS: Final = 0x02
XSER_BILLING_IDENTIFIER: Final = 0x0C

#: Delivery notification reason codes (Rsn, OT 53), as the 4.x specification lists them.
RSN_NAMES: Final = MappingProxyType(
    {
        0: "unknown subscriber",
        1: "service temporarily not available",
        2: "service temporarily not available",
        3: "service temporarily not available",
        4: "service temporarily not available",
        5: "service temporarily not available",
        6: "service temporarily not available",
        7: "service temporarily not available",
        8: "service temporarily not available",
        9: "illegal error code",
        10: "network time-out",
        100: "facility not supported",
        101: "unknown subscriber",
        102: "facility not provided",
        103: "call barred",
        104: "operation barred",
        105: "SC congestion",
        106: "facility not supported",
        107: "absent subscriber",
        108: "delivery fail",
        109: "SC congestion",
        110: "protocol error",
        111: "MS not equipped",
        112: "unknown SC",
        113: "SC congestion",
        114: "illegal MS",
        115: "MS not a subscriber",
        116: "error in MS",
        117: "SMS lower layer not provisioned",
        118: "system fail",
        119: "PLMN system failure",
        120: "HLR system failure",
        121: "VLR system failure",
        122: "previous VLR system failure",
        123: "controlling MSC system failure",
        124: "VMSC system failure",
        125: "EIR system failure",
        126: "system failure",
        127: "unexpected data value",
        200: "error in address service centre",
        201: "invalid absolute validity period",
        202: "short message exceeds maximum",
        203: "unable to unpack GSM message",
        204: "unable to convert to IRA alphabet",
        205: "invalid validity period format",
        206: "invalid destination address",
        207: "duplicate message submit",
        208: "invalid message type indicator",
    }
)

"""SMPP 3.4 numbers: command ids, command_status codes and a few flag values.

Plain ``int`` constants rather than enums: values come off the wire as ints and are compared on
the hot path. ``command_name`` and ``status_name`` turn them back into names for logs.
Sources: SMPP 3.4 §5.1, cross-checked against Kannel ``smpp_pdu.h`` and smpplib ``consts.py``
(see ``docs/adr/0002-smpp-core.md``).
"""

from __future__ import annotations

from typing import Final

HEADER_SIZE: Final = 16
RESPONSE_BIT: Final = 0x80000000
SEQUENCE_MAX: Final = 0x7FFFFFFF
SHORT_MESSAGE_SIZE_MAX: Final = 254
NUMBER_OF_DESTS_MAX: Final = 254
INTERFACE_VERSION_34: Final = 0x34
INTERFACE_VERSION_50: Final = 0x50

# --- command_id ---------------------------------------------------------------------------
GENERIC_NACK: Final = 0x80000000
BIND_RECEIVER: Final = 0x00000001
BIND_RECEIVER_RESP: Final = 0x80000001
BIND_TRANSMITTER: Final = 0x00000002
BIND_TRANSMITTER_RESP: Final = 0x80000002
QUERY_SM: Final = 0x00000003
QUERY_SM_RESP: Final = 0x80000003
SUBMIT_SM: Final = 0x00000004
SUBMIT_SM_RESP: Final = 0x80000004
DELIVER_SM: Final = 0x00000005
DELIVER_SM_RESP: Final = 0x80000005
UNBIND: Final = 0x00000006
UNBIND_RESP: Final = 0x80000006
REPLACE_SM: Final = 0x00000007
REPLACE_SM_RESP: Final = 0x80000007
CANCEL_SM: Final = 0x00000008
CANCEL_SM_RESP: Final = 0x80000008
BIND_TRANSCEIVER: Final = 0x00000009
BIND_TRANSCEIVER_RESP: Final = 0x80000009
OUTBIND: Final = 0x0000000B
ENQUIRE_LINK: Final = 0x00000015
ENQUIRE_LINK_RESP: Final = 0x80000015
SUBMIT_MULTI: Final = 0x00000021
SUBMIT_MULTI_RESP: Final = 0x80000021
ALERT_NOTIFICATION: Final = 0x00000102
DATA_SM: Final = 0x00000103
DATA_SM_RESP: Final = 0x80000103
# SMPP 5.0 only; the codec does not know them and answers generic_nack ESME_RINVCMDID.
BROADCAST_SM: Final = 0x00000111
QUERY_BROADCAST_SM: Final = 0x00000112
CANCEL_BROADCAST_SM: Final = 0x00000113

# --- command_status ----------------------------------------------------------------------
ESME_ROK: Final = 0x00000000
ESME_RINVMSGLEN: Final = 0x00000001
ESME_RINVCMDLEN: Final = 0x00000002
ESME_RINVCMDID: Final = 0x00000003
ESME_RINVBNDSTS: Final = 0x00000004
ESME_RALYBND: Final = 0x00000005
ESME_RINVPRTFLG: Final = 0x00000006
ESME_RINVREGDLVFLG: Final = 0x00000007
ESME_RSYSERR: Final = 0x00000008
ESME_RINVSRCADR: Final = 0x0000000A
ESME_RINVDSTADR: Final = 0x0000000B
ESME_RINVMSGID: Final = 0x0000000C
ESME_RBINDFAIL: Final = 0x0000000D
ESME_RINVPASWD: Final = 0x0000000E
ESME_RINVSYSID: Final = 0x0000000F
ESME_RCANCELFAIL: Final = 0x00000011
ESME_RREPLACEFAIL: Final = 0x00000013
ESME_RMSGQFUL: Final = 0x00000014
ESME_RINVSERTYP: Final = 0x00000015
ESME_RINVNUMDESTS: Final = 0x00000033
ESME_RINVDLNAME: Final = 0x00000034
ESME_RINVDESTFLAG: Final = 0x00000040
ESME_RINVSUBREP: Final = 0x00000042
ESME_RINVESMCLASS: Final = 0x00000043
ESME_RCNTSUBDL: Final = 0x00000044
ESME_RSUBMITFAIL: Final = 0x00000045
ESME_RINVSRCTON: Final = 0x00000048
ESME_RINVSRCNPI: Final = 0x00000049
ESME_RINVDSTTON: Final = 0x00000050
ESME_RINVDSTNPI: Final = 0x00000051
ESME_RINVSYSTYP: Final = 0x00000053
ESME_RINVREPFLAG: Final = 0x00000054
ESME_RINVNUMMSGS: Final = 0x00000055
ESME_RTHROTTLED: Final = 0x00000058
ESME_RINVSCHED: Final = 0x00000061
ESME_RINVEXPIRY: Final = 0x00000062
ESME_RINVDFTMSGID: Final = 0x00000063
ESME_RX_T_APPN: Final = 0x00000064
ESME_RX_P_APPN: Final = 0x00000065
ESME_RX_R_APPN: Final = 0x00000066
ESME_RQUERYFAIL: Final = 0x00000067
ESME_RINVOPTPARSTREAM: Final = 0x000000C0
ESME_ROPTPARNOTALLWD: Final = 0x000000C1
ESME_RINVPARLEN: Final = 0x000000C2
ESME_RMISSINGOPTPARAM: Final = 0x000000C3
ESME_RINVOPTPARAMVAL: Final = 0x000000C4
ESME_RDELIVERYFAILURE: Final = 0x000000FE
ESME_RUNKNOWNERR: Final = 0x000000FF
# SMPP 5.0 additions (wire-compatible; useful when answering 5.0 peers)
ESME_RSERTYPUNAUTH: Final = 0x00000100
ESME_RPROHIBITED: Final = 0x00000101
ESME_RSERTYPUNAVAIL: Final = 0x00000102
ESME_RSERTYPDENIED: Final = 0x00000103
ESME_RINVDCS: Final = 0x00000104
ESME_RINVSRCADDRSUBUNIT: Final = 0x00000105
ESME_RINVDSTADDRSUBUNIT: Final = 0x00000106

# --- esm_class (SMPP 3.4 §5.2.12) ----------------------------------------------------------
ESM_MODE_MASK: Final = 0x03
ESM_MODE_STORE_AND_FORWARD: Final = 0x03
ESM_TYPE_MASK: Final = 0x3C
ESM_TYPE_DELIVERY_RECEIPT: Final = 0x04
ESM_TYPE_SME_DELIVERY_ACK: Final = 0x08
ESM_TYPE_INTERMEDIATE_NOTIFICATION: Final = 0x20
ESM_UDHI: Final = 0x40
ESM_REPLY_PATH: Final = 0x80

# --- message_state (TLV 0x0427, query_sm_resp) -------------------------------------------
MESSAGE_STATE_ENROUTE: Final = 1
MESSAGE_STATE_DELIVERED: Final = 2
MESSAGE_STATE_EXPIRED: Final = 3
MESSAGE_STATE_DELETED: Final = 4
MESSAGE_STATE_UNDELIVERABLE: Final = 5
MESSAGE_STATE_ACCEPTED: Final = 6
MESSAGE_STATE_UNKNOWN: Final = 7
MESSAGE_STATE_REJECTED: Final = 8


def _names(prefix: str, exclude: tuple[str, ...] = ()) -> dict[int, str]:
    table: dict[int, str] = {}
    for name, value in globals().items():
        if name.startswith(prefix) and name not in exclude and isinstance(value, int):
            table.setdefault(value, name)
    return table


_COMMAND_NAMES: Final = {
    value: name.lower()
    for name, value in globals().items()
    if isinstance(value, int)
    and name.isupper()
    and not name.startswith(("ESME_", "ESM_", "MESSAGE_STATE_", "INTERFACE_", "HEADER_", "RESPONSE_"))
    and not name.endswith("_MAX")
}
_STATUS_NAMES: Final = _names("ESME_")


def command_name(command_id: int) -> str:
    """``submit_sm`` for 0x00000004; a hex string for ids this module does not know."""
    return _COMMAND_NAMES.get(command_id, f"0x{command_id:08X}")


def status_name(status: int) -> str:
    """``ESME_RTHROTTLED`` for 0x58; a hex string for vendor-specific codes."""
    return _STATUS_NAMES.get(status, f"0x{status:08X}")

"""Sans-I/O EMI-UCP 4.x core: codec, framing, text helpers and session state machine, both roles.

No sockets, no asyncio, no clock: bytes and ``now`` in, frozen-dataclass events and bytes out,
exactly like :mod:`smpp_bridge.smpp` (same loop, same event names where they mean the same).
Operations: 01 call input, 31 alert, 51 submit, 52 deliver, 53 delivery notification, 60 session
management (login), with positive (A) and negative (N, EC) results.

Module map: ``constants`` (OTs, ECs, field values), ``operations`` (dataclasses + layouts),
``codec`` (one frame <-> bytes), ``stream`` (STX/ETX framing, shared with CIMD2), ``text``
(IRA/hex, alphanumeric OAdC, AMsg), ``dlr`` (OT 53 -> DlrStatus), ``rules`` (state tables),
``session`` (the state machine), ``events``, ``errors`` (the one exception). Notes:
``docs/ucp-cimd2.md``.
"""

from smpp_bridge.smpp.rules import Role

from .codec import decode_frame, encode
from .constants import Ec
from .dlr import UcpReport, notification_report, submit_operator_id
from .errors import UcpError
from .events import (
    Event,
    LoginRequested,
    RequestFailed,
    RequestReceived,
    RequestTimedOut,
    ResultReceived,
    SendData,
    SessionClosed,
    UnexpectedFrame,
)
from .operations import (
    Ack,
    CallInput,
    DeliverShortMessage,
    DeliveryNotification,
    Message,
    Message50,
    MtAlert,
    Nack,
    Operation,
    Result,
    SessionManagement,
    SubmitShortMessage,
    XSer,
)
from .rules import State
from .session import SessionConfig, SessionLimits, UcpSession
from .stream import FrameDecoder
from .text import (
    UcpCharset,
    decode_alphanumeric_oadc,
    decode_amsg,
    encode_alphanumeric_oadc,
    encode_amsg,
    message_text,
    originator_text,
    submit_for_text,
)

__all__ = [
    "Ack",
    "CallInput",
    "DeliverShortMessage",
    "DeliveryNotification",
    "Ec",
    "Event",
    "FrameDecoder",
    "LoginRequested",
    "Message",
    "Message50",
    "MtAlert",
    "Nack",
    "Operation",
    "RequestFailed",
    "RequestReceived",
    "RequestTimedOut",
    "Result",
    "ResultReceived",
    "Role",
    "SendData",
    "SessionClosed",
    "SessionConfig",
    "SessionLimits",
    "SessionManagement",
    "State",
    "SubmitShortMessage",
    "UcpCharset",
    "UcpError",
    "UcpReport",
    "UcpSession",
    "UnexpectedFrame",
    "XSer",
    "decode_alphanumeric_oadc",
    "decode_amsg",
    "decode_frame",
    "encode",
    "encode_alphanumeric_oadc",
    "encode_amsg",
    "message_text",
    "notification_report",
    "originator_text",
    "submit_for_text",
    "submit_operator_id",
]

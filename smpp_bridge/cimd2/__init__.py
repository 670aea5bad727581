"""Sans-I/O CIMD2 (Nokia CIMD 2.0) core: codec, framing, text helpers and session, both roles.

No sockets, no asyncio, no clock: bytes and ``now`` in, frozen-dataclass events and bytes out,
exactly like :mod:`smpp_bridge.smpp` and :mod:`smpp_bridge.ucp`. Packets: 01 login, 02 logout,
03 submit, 20 deliver message, 23 deliver status report, 40 alive, their responses (+50), 98
general error response and 99 NACK, with the error codes of parameter 900.

Module map: ``constants`` (opcodes, parameters, codes), ``packets`` (dataclasses + layouts),
``codec`` (one packet <-> bytes), ``stream`` (framing, on the splitter shared with UCP), ``text``
(the user-data character set, binary user data), ``dlr`` (op 23 -> DlrStatus), ``rules`` (state
tables, packet numbers), ``session`` (the state machine), ``events``, ``errors`` (the one
exception). Notes: ``docs/ucp-cimd2.md``.
"""

from smpp_bridge.smpp.rules import Role

from .codec import decode_frame, encode
from .constants import Code
from .dlr import Cimd2Report, status_report, submit_operator_id
from .errors import Cimd2Error
from .events import (
    Event,
    LoginRequested,
    RequestFailed,
    RequestReceived,
    RequestTimedOut,
    ResponseReceived,
    SendData,
    SessionClosed,
    UnexpectedPacket,
)
from .packets import (
    Alive,
    DeliverMessage,
    DeliverStatusReport,
    Login,
    Logout,
    Message,
    Packet,
    Request,
    Response,
    SubmitMessage,
)
from .rules import State
from .session import Cimd2Session, SessionConfig, SessionLimits
from .stream import Cimd2Decoder
from .text import (
    RawOctets,
    decode_user_data,
    encode_user_data,
    message_text,
    originator_text,
    submit_for_text,
)

__all__ = [
    "Alive",
    "Cimd2Decoder",
    "Cimd2Error",
    "Cimd2Report",
    "Cimd2Session",
    "Code",
    "DeliverMessage",
    "DeliverStatusReport",
    "Event",
    "Login",
    "LoginRequested",
    "Logout",
    "Message",
    "Packet",
    "RawOctets",
    "Request",
    "RequestFailed",
    "RequestReceived",
    "RequestTimedOut",
    "Response",
    "ResponseReceived",
    "Role",
    "SendData",
    "SessionClosed",
    "SessionConfig",
    "SessionLimits",
    "State",
    "SubmitMessage",
    "UnexpectedPacket",
    "decode_frame",
    "decode_user_data",
    "encode",
    "encode_user_data",
    "message_text",
    "originator_text",
    "status_report",
    "submit_for_text",
    "submit_operator_id",
]

"""Which packets may flow in which session state, for both roles, and the packet-number rule.

CIMD2 requests are SME-originated (01 login, 02 logout, 03 submit) or MC-originated (20 deliver
message, 23 deliver status report); 40 alive goes both ways. A session in the SMSC (MC) role
receives what an SME may originate and sends what an MC may; the ESME (SME) role the other way
round. Packet numbers: the SME numbers its requests with odd numbers 001-255, the MC with even
numbers 000-254, each side counting up by two and wrapping; a response repeats its request's number.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from smpp_bridge.smpp.rules import Role

from . import constants as c


class State(StrEnum):
    OPEN = "open"  # connected, not logged in
    ACTIVE = "active"  # logged in
    LOGGING_OUT = "logging_out"  # we sent a logout and wait for its response
    CLOSED = "closed"


SME_ORIGINATED: Final = frozenset({c.LOGIN, c.LOGOUT, c.SUBMIT_MESSAGE, c.ALIVE})
MC_ORIGINATED: Final = frozenset({c.DELIVER_MESSAGE, c.DELIVER_STATUS_REPORT, c.ALIVE})
# Requests that do not take a slot in the window: session control, not traffic.
CONTROL_OPCODES: Final = frozenset({c.LOGIN, c.LOGOUT, c.ALIVE})
_NOTHING: Final[frozenset[int]] = frozenset()

_INCOMING: Final[dict[Role, dict[State, frozenset[int]]]] = {
    Role.SMSC: {
        State.OPEN: frozenset({c.LOGIN, c.ALIVE}),
        State.ACTIVE: frozenset({c.SUBMIT_MESSAGE, c.ALIVE, c.LOGOUT}),
        State.LOGGING_OUT: _NOTHING,
        State.CLOSED: _NOTHING,
    },
    Role.ESME: {
        State.OPEN: frozenset({c.ALIVE}),
        State.ACTIVE: MC_ORIGINATED,
        State.LOGGING_OUT: MC_ORIGINATED,  # the MC may deliver until it has read our logout
        State.CLOSED: _NOTHING,
    },
}
_OUTGOING: Final[dict[Role, dict[State, frozenset[int]]]] = {
    Role.SMSC: {
        State.OPEN: _NOTHING,
        State.ACTIVE: MC_ORIGINATED,
        State.LOGGING_OUT: _NOTHING,
        State.CLOSED: _NOTHING,
    },
    Role.ESME: {
        State.OPEN: frozenset({c.LOGIN}),
        State.ACTIVE: SME_ORIGINATED - {c.LOGIN},
        State.LOGGING_OUT: _NOTHING,
        State.CLOSED: _NOTHING,
    },
}


def allowed(role: Role, state: State) -> tuple[frozenset[int], frozenset[int]]:
    """(requests we may receive, requests we may send) for ``role`` in ``state``."""
    return _INCOMING[role][state], _OUTGOING[role][state]


def first_number(role: Role) -> int:
    """Our first packet number: 001 for the SME (its login), 000 for the MC."""
    return 1 if role is Role.ESME else 0


def peer_parity(role: Role) -> int:
    """The parity (number % 2) of the peer's requests: odd from an SME, even from an MC."""
    return 1 if role is Role.SMSC else 0


def after(number: int) -> int:
    """The next number of the same parity, wrapping 255 -> 001 and 254 -> 000."""
    return (number + 2) % (c.NUMBER_MAX + 1)

"""Which requests may flow in which session state (SMPP 3.4 §2.3, §2.4).

Requests are either ESME-originated (binds, submits, query/cancel/replace) or SMSC-originated
(outbind, deliver_sm, alert_notification); data_sm, unbind and enquire_link go both ways. A
session in the SMSC role *receives* what an ESME may originate and *sends* what an SMSC may, and
the ESME role the other way round, so two tables cover both roles. enquire_link is valid in
every state but CLOSED (5.0 allows it while OPEN, and being liberal costs nothing).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from . import constants as c
from .pdus import BindReceiverResp, BindResp, BindTransceiverResp, BindTransmitterResp


class Role(StrEnum):
    ESME = "esme"  # we bind out (client)
    SMSC = "smsc"  # peers bind to us (server)


class State(StrEnum):
    OPEN = "open"
    BOUND_TX = "bound_tx"
    BOUND_RX = "bound_rx"
    BOUND_TRX = "bound_trx"
    UNBOUND = "unbound"
    CLOSED = "closed"


BIND_IDS: Final = frozenset({c.BIND_TRANSMITTER, c.BIND_RECEIVER, c.BIND_TRANSCEIVER})
BOUND_STATES: Final = frozenset({State.BOUND_TX, State.BOUND_RX, State.BOUND_TRX})
STATE_AFTER_BIND: Final = {
    c.BIND_TRANSMITTER: State.BOUND_TX,
    c.BIND_RECEIVER: State.BOUND_RX,
    c.BIND_TRANSCEIVER: State.BOUND_TRX,
}
BIND_RESPONSE: Final[dict[int, type[BindResp]]] = {
    c.BIND_TRANSMITTER: BindTransmitterResp,
    c.BIND_RECEIVER: BindReceiverResp,
    c.BIND_TRANSCEIVER: BindTransceiverResp,
}
# Requests that do not take a slot in the window: session control, not traffic.
CONTROL_IDS: Final = BIND_IDS | {c.UNBIND, c.ENQUIRE_LINK, c.OUTBIND}

_KEEPALIVE: Final = frozenset({c.ENQUIRE_LINK})
_BOUND: Final = frozenset({c.UNBIND, c.ENQUIRE_LINK})
_SUBMIT: Final = frozenset({c.SUBMIT_SM, c.SUBMIT_MULTI, c.DATA_SM, c.QUERY_SM, c.CANCEL_SM, c.REPLACE_SM})
_DELIVER: Final = frozenset({c.DELIVER_SM, c.DATA_SM, c.ALERT_NOTIFICATION})
_NOTHING: Final[frozenset[int]] = frozenset()

ESME_ORIGINATED: Final[dict[State, frozenset[int]]] = {
    State.OPEN: BIND_IDS | _KEEPALIVE,
    State.BOUND_TX: _SUBMIT | _BOUND,
    State.BOUND_RX: _BOUND,
    State.BOUND_TRX: _SUBMIT | _BOUND,
    State.UNBOUND: _BOUND,
    State.CLOSED: _NOTHING,
}
SMSC_ORIGINATED: Final[dict[State, frozenset[int]]] = {
    State.OPEN: frozenset({c.OUTBIND}) | _KEEPALIVE,
    State.BOUND_TX: _BOUND,
    State.BOUND_RX: _DELIVER | _BOUND,
    State.BOUND_TRX: _DELIVER | _BOUND,
    State.UNBOUND: _BOUND,
    State.CLOSED: _NOTHING,
}


def allowed(role: Role, state: State) -> tuple[frozenset[int], frozenset[int]]:
    """(requests we may receive, requests we may send) for ``role`` in ``state``."""
    incoming, outgoing = (
        (ESME_ORIGINATED, SMSC_ORIGINATED) if role is Role.SMSC else (SMSC_ORIGINATED, ESME_ORIGINATED)
    )
    # After we sent unbind we wait for unbind_resp: only keepalives go out.
    return incoming[state], _KEEPALIVE if state is State.UNBOUND else outgoing[state]


def refusal_status(command_id: int, state: State) -> int:
    """The status answering a request the state forbids: a second bind is ESME_RALYBND."""
    if command_id in BIND_IDS and state in BOUND_STATES:
        return c.ESME_RALYBND
    return c.ESME_RINVBNDSTS

"""Which operations may flow in which session state, for both roles.

EMI-UCP splits operations into SMT-initiated (01 call input, 31 alert, 51 submit, 60 session
management) and SMSC-initiated (52 deliver, 53 notification). A session in the SMSC role receives
what an SMT may originate and sends what an SMSC may; the SMT role (``Role.ESME``, as in
:mod:`smpp_bridge.smpp.rules`) the other way round. As Kannel does, the SMT role also *accepts* an
OT 01 (read as an MO) and an OT 31 from the SMSC; it never sends 52 or 53.

Login (OT 60) is optional in EMI-UCP; ``login_required`` makes a session start OPEN, where only
60 and 31 flow, and a positive result to 60 makes it ACTIVE. Refusals: an operation the role never
receives is EC 03 (not supported), one the state forbids is EC 04 (not allowed).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from smpp_bridge.smpp.rules import Role

from . import constants as c


class State(StrEnum):
    OPEN = "open"  # connected, not logged in
    ACTIVE = "active"  # logged in (or no login needed)
    CLOSED = "closed"


SMT_ORIGINATED: Final = frozenset({c.CALL_INPUT, c.MT_ALERT, c.SUBMIT_SHORT_MESSAGE, c.SESSION_MANAGEMENT})
SMSC_ORIGINATED: Final = frozenset({c.DELIVER_SHORT_MESSAGE, c.DELIVERY_NOTIFICATION})
SMT_ACCEPTS: Final = SMSC_ORIGINATED | {c.CALL_INPUT, c.MT_ALERT}
# Operations that do not take a slot in the window: session control, not traffic.
CONTROL_OTS: Final = frozenset({c.SESSION_MANAGEMENT, c.MT_ALERT})
_OPEN: Final = frozenset({c.SESSION_MANAGEMENT, c.MT_ALERT})
_NOTHING: Final[frozenset[int]] = frozenset()


def role_sets(role: Role) -> tuple[frozenset[int], frozenset[int]]:
    """(operations the role ever receives, operations it ever sends)."""
    if role is Role.SMSC:
        return SMT_ORIGINATED, SMSC_ORIGINATED
    return SMT_ACCEPTS, SMT_ORIGINATED


def allowed(role: Role, state: State) -> tuple[frozenset[int], frozenset[int]]:
    """(operations we may receive, operations we may send) for ``role`` in ``state``."""
    incoming, outgoing = role_sets(role)
    if state is State.CLOSED:
        return _NOTHING, _NOTHING
    if state is State.OPEN:
        return incoming & _OPEN, outgoing & _OPEN
    return incoming - {c.SESSION_MANAGEMENT}, outgoing - {c.SESSION_MANAGEMENT}


def refusal_ec(role: Role, ot: int) -> int:
    """EC 03 for an operation the role never receives, EC 04 for one the state forbids."""
    if ot in role_sets(role)[0]:
        return int(c.Ec.OPERATION_NOT_ALLOWED)
    return int(c.Ec.OPERATION_NOT_SUPPORTED)

"""The client role's protocol adapter vocabulary (SMPP, UCP/EMI, CIMD2 links to operator SMSCs).

:class:`~smpp_bridge.client.SmscLink` does what every link protocol shares (reconnect with
back-off and jitter, the window, pacing at the granted TPS, throttling back-off, one outcome per
submit, MOs and receipts stored before they are answered). What differs per protocol is a small
:class:`ClientAdapter`: it owns the sans-I/O session, logs in, turns the bridge's submit (an SMPP
``submit_sm``, the bridge's lingua franca, as ``outbound.submit_pdu`` builds it) into the
protocol's submit, and translates the session's events into the :data:`ClientAction` vocabulary
below. Deliveries from the SMSC reach ``on_deliver`` as ``deliver_sm`` (a UCP OT 53 or CIMD2 op 23
as a receipt with ``receipted_message_id`` and ``message_state``), so the MO and DLR paths
(``deliveries.py``) are the same for every protocol. The answer to a delivery is given in SMPP's
terms (``ESME_ROK``, ``ESME_RX_T_APPN`` = temporary, anything else = permanent) and the adapter
writes its protocol's equivalent.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from smpp_bridge.smpp import DataSm, DeliverSm, SubmitSm


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    RETRY = "retry"
    UNKNOWN = "unknown"
    PERMANENT = "permanent"


@dataclass(frozen=True, slots=True)
class SubmitOutcome:
    kind: Outcome
    message_id: str = ""
    command_status: int | None = None
    reason: str = ""
    bind: str = ""

    @property
    def retryable(self) -> bool:
        return self.kind in (Outcome.RETRY, Outcome.UNKNOWN)


class DeliverRefused(Exception):
    """Raised by ``on_deliver``: the message can never be taken; answer ``status``, no redelivery."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


class NotSent(Exception):
    """The adapter did not send it: wrong state or full window (try again), or ``permanent``: the
    submit cannot be put in the protocol's fields (an originator or text it cannot carry)."""

    def __init__(self, reason: str, status: int | None = None, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.status = status
        self.permanent = permanent


@dataclass(frozen=True, slots=True)
class Write:
    data: bytes


@dataclass(frozen=True, slots=True)
class LoggedIn:
    """The bind / login succeeded: submits may flow."""


@dataclass(frozen=True, slots=True)
class LoginRefused:
    reason: str


@dataclass(frozen=True, slots=True)
class Answered:
    """The SMSC answered a submit. ``throttle``: pause the link before sending more."""

    context: object
    outcome: SubmitOutcome
    throttle: bool = False


@dataclass(frozen=True, slots=True)
class Unanswered:
    """Sent, but no usable answer (timeout, connection lost, malformed): the outcome is unknown."""

    context: object
    reason: str


@dataclass(frozen=True, slots=True)
class Incoming:
    """An MO or a receipt, as a ``deliver_sm``; answer it with ``answer(token, status)``."""

    token: object
    pdu: DeliverSm | DataSm


@dataclass(frozen=True, slots=True)
class Closed:
    reason: str


ClientAction = Write | LoggedIn | LoginRefused | Answered | Unanswered | Incoming | Closed


class ClientAdapter(Protocol):
    """One protocol's session, seen by the protocol-independent :class:`SmscLink`."""

    name: str

    def login(self, now: float) -> bytes:
        """The bind / login request to send first."""
        ...

    def receive(self, data: bytes, now: float) -> list[ClientAction]: ...
    def timer(self, now: float) -> list[ClientAction]: ...
    def close(self, reason: str) -> list[ClientAction]: ...
    def next_deadline(self) -> float | None: ...
    @property
    def closed(self) -> bool: ...
    @property
    def logged_in(self) -> bool: ...
    @property
    def outstanding(self) -> int: ...
    def submit(self, pdu: SubmitSm, now: float, context: object) -> bytes:
        """The protocol's submit for ``pdu``; its Answered/Unanswered carries ``context``. NotSent."""
        ...

    def answer(self, token: object, status: int) -> bytes:
        """The answer to an :class:`Incoming` (SMPP status vocabulary); ``b""`` when it can no
        longer be sent (the session closed). Raises :class:`NotSent` when it is not awaited."""
        ...

    def goodbye(self, now: float) -> bytes | None:
        """The unbind / logout to send when closing (``None``: the protocol has none, just close)."""
        ...

"""UCP delivery notifications (OT 53) and submit results in the platform's DLR vocabulary.

Correlation follows Kannel and the specification: the positive result to an OT 51 carries
``SM = AdC:SCTS`` (recipient and service-centre time stamp); the OT 53 about that message carries
the same SCTS and the recipient in OAdC. Both sides build the operator message id with
:func:`smsbilling.domain.dlr.scts_operator_id`, so they meet. ``Dst`` maps through
:func:`smsbilling.domain.dlr.status_from_ucp_dst` (0 delivered, 1 buffered = en route,
2 not delivered; anything else is UNKNOWN, which is not final). ``Rsn`` is kept as the error.
"""

from __future__ import annotations

from dataclasses import dataclass

from smsbilling.domain.dlr import DlrError, DlrStatus, scts_operator_id, status_from_ucp_dst

from . import constants as c
from .errors import UcpError
from .operations import Ack, DeliveryNotification, SubmitShortMessage


@dataclass(frozen=True, slots=True)
class UcpReport:
    """What one OT 53 says: whose message, which state, the reason code (Rsn, may be empty)."""

    operator_id: str
    status: DlrStatus
    reason: str

    @property
    def reason_text(self) -> str:
        return c.RSN_NAMES.get(int(self.reason), "") if self.reason.isdigit() else ""


def _operator_id(recipient: str, scts: str) -> str:
    try:
        return scts_operator_id(recipient, scts)
    except DlrError as exc:
        raise UcpError(int(c.Ec.SYNTAX_ERROR), str(exc)) from None


def notification_report(op: DeliveryNotification) -> UcpReport:
    """Read an OT 53. Raises :class:`UcpError` when it names no message (no OAdC or SCTS)."""
    return UcpReport(_operator_id(op.oadc, op.scts), status_from_ucp_dst(op.dst or None), op.rsn)


def submit_operator_id(result: Ack, request: SubmitShortMessage) -> str:
    """The operator message id of an accepted OT 51: from ``SM = AdC:SCTS``, or the request's AdC
    with a bare SCTS in SM. Raises :class:`UcpError` when the result carries no SCTS."""
    adc, _, scts = result.sm.rpartition(":")
    return _operator_id(adc or request.adc, scts)

"""CIMD2 status reports (op 23) and submit responses in the platform's DLR vocabulary.

The submit response (53) carries the recipient (021) and the MC time stamp (060); the status
report about that message carries the same pair (Kannel correlates exactly so). Both sides build
the operator message id with :func:`smsbilling.domain.dlr.scts_operator_id`. The status code (061)
maps through :func:`smsbilling.domain.dlr.status_from_cimd2` (4 delivered, 2 expired, 3/6/7/8/9
undelivered, 1/5 en route; anything else UNKNOWN, which is not final); 062 is kept as the error.
"""

from __future__ import annotations

from dataclasses import dataclass

from smsbilling.domain.dlr import DlrError, DlrStatus, scts_operator_id, status_from_cimd2

from . import constants as c
from .errors import Cimd2Error
from .packets import DeliverStatusReport, Response, SubmitMessage


@dataclass(frozen=True, slots=True)
class Cimd2Report:
    """What one op 23 says: whose message, which state, the status error code (062) if any."""

    operator_id: str
    status: DlrStatus
    status_code: int | None
    error_code: int | None

    @property
    def status_text(self) -> str:
        return c.STATUS_NAMES.get(self.status_code, "") if self.status_code is not None else ""


def _operator_id(recipient: str | None, timestamp: str | None) -> str:
    try:
        return scts_operator_id(recipient or "", timestamp or "")
    except DlrError as exc:
        raise Cimd2Error(int(c.Code.SYNTAX_ERROR), str(exc)) from None


def status_report(op: DeliverStatusReport) -> Cimd2Report:
    """Read an op 23. Raises :class:`Cimd2Error` when it names no message (no 021 or 060)."""
    return Cimd2Report(
        _operator_id(op.destination_address, op.mc_timestamp),
        status_from_cimd2(op.status_code),
        op.status_code,
        op.status_error_code,
    )


def submit_operator_id(response: Response, request: SubmitMessage) -> str:
    """The operator message id of an accepted op 03 (the response's 021, else the request's, with
    the response's 060). Raises :class:`Cimd2Error` when the response has no time stamp."""
    return _operator_id(response.destination_address or request.destination_address, response.mc_timestamp)

"""Test traffic: MOs a partner emulates for its own service, and the replies they get. Pure.

The test tool (logic/test_tool.py) stores an MO with ``is_test=True`` as an operator link would and
queues it; the real pipeline routes it and delivers it to the partner's handler (the request says
``is_test``), but a test MO is never charged, never counted in the partner's period traffic, never
subscribes or unsubscribes anyone and never gets the operator's default reply. Its reply MT is
recorded as a *test MT*: never handed to an operator link, never billed, and final at once as
``delivered`` with :data:`SIMULATED_REASON` (:func:`simulated_delivery`). Every test MO of a
service is listed in its test log (:class:`HandlerTestEntry`).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from smsbilling.domain import mt as lifecycle
from smsbilling.domain.dlr import DlrStatus

TEST_LINK_ID: Final = "test-tool"
"""The link a test MO says it came on. Reserved: no operator link may have this id;
the MT processor takes an MT asked to go over it (a reply names its MO's link) for a test MT."""
SIMULATED_REASON: Final = "test: simulated, never sent to an operator"


def simulated_delivery(mt: lifecycle.Mt, now_ms: int) -> lifecycle.Mt:
    """A queued test MT made final as delivered, every part as if accepted and delivered.

    Built through the lifecycle's own transitions, so the record is one a real MT could have been;
    the operator ids are ``test-<n>``. An MT already final (refused at creation) stays as it is.
    """
    if mt.is_final:
        return mt
    mt = lifecycle.apply(mt, lifecycle.HandedToLink(now_ms)).mt
    for index in range(len(mt.parts)):
        key = f"test-{index + 1}"
        mt = lifecycle.apply(mt, lifecycle.SubmitAccepted(index, key, key, now_ms)).mt
        mt = lifecycle.apply(
            mt, lifecycle.ReceiptReceived(key, DlrStatus.DELIVERED, SIMULATED_REASON, now_ms)
        ).mt
    if mt.state is not lifecycle.MtState.DELIVERED:  # pragma: no cover - the lifecycle's own rules
        raise ValueError(f"a simulated delivery ended {mt.state.value}")
    return replace(mt, reason=SIMULATED_REASON)


class HandlerTestEntry(BaseModel):
    """One line of a service's test log: which test MO, when (the MO, its delivery and reply are read)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    service_id: str = Field(min_length=1, max_length=64)
    message_id: str = Field(min_length=1, max_length=64, description="the test MO's id")
    partner_id: str = Field(min_length=1, max_length=64)
    received_at: datetime


def log_sort_key(entry: HandlerTestEntry) -> str:
    """Where an entry sorts in its service's log: UTC time, fixed width, then the MO id (unique)."""
    at = entry.received_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return f"{at}#{entry.message_id}"

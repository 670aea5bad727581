"""The test tool: a partner emulates an incoming MO for its own service, through the real pipeline.

:func:`emulate_mo` stores the MO the way an operator link does (logic/mo_intake.py: put-if-absent,
then ``mo.received`` on the MO queue), from the service's short number and a test MSISDN, with
``is_test=True`` and on :data:`~smsbilling.domain.handler_testing.TEST_LINK_ID`. From there the
deployed pipeline takes it: the MO processor routes it (but charges, counts and subscribes
nothing), partner delivery calls the handler with ``is_test: true`` (retries and dead letters
included), and a reply becomes a test MT that the MT processor records as a simulated delivery
and never sends. Each test MO gets a line in the service's test log; :func:`read_test_log` shows
the newest first, each with the MO's decision, the delivery record (state, attempts, HTTP status,
reason) and the reply (text and state).

The text is the MO as the subscriber would type it; if it does not start with the service's
prefix, the prefix is put in front, so the test reaches the service it is meant for.
With an ``Idempotency-Key`` the MO id comes from (partner, key): a repeat stores and queues the
same MO, which the MO processor decides once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from smsbilling.contracts import MoReceived
from smsbilling.domain.delivery_log import DeliveryRecord, reply_mt_id
from smsbilling.domain.entities import PartnerService, RoutingConfig, ServiceStatus, ShortNumber
from smsbilling.domain.handler_testing import TEST_LINK_ID, HandlerTestEntry
from smsbilling.domain.ids import derived_id
from smsbilling.domain.inbound import MoState, StoredMo
from smsbilling.domain.msisdn import MsisdnError, normalise_msisdn
from smsbilling.domain.routing import fold, split_keyword
from smsbilling.logic.mo_intake import EntityReader, EventPublisher, InboundStore
from smsbilling.ports import MtRecord
from smsbilling.settings import HandlerTestLimits

# --- errors: each maps to one problem response in web/test_tool.py ---------------------------------


class HandlerTestError(Exception):
    """Base of what the test tool refuses on purpose."""


class HandlerTestNotFound(HandlerTestError):
    """No such service for this partner (404)."""


class HandlerTestInvalid(HandlerTestError):
    """A field the tool cannot use (422)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class HandlerTestUnavailable(HandlerTestError):
    """The service cannot take a test MO now (409, ``code`` says why)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


# --- ports --------------------------------------------------------------------------------------


class HandlerTestLog(Protocol):
    """``adapters.dynamodb_handler_test_log`` / ``memory_handler_test_log`` (tests/contract)."""

    def add(self, entry: HandlerTestEntry, *, expires_at_s: int) -> None:
        """Keep the entry until ``expires_at_s`` (epoch seconds); the same entry again is the same."""
        ...

    def recent(
        self, service_id: str, *, limit: int, after: str | None = None
    ) -> tuple[list[HandlerTestEntry], str | None]:
        """Up to ``limit`` entries of the service, newest first, after the cursor ``after``.

        The cursor of the next page, or None when there is no more.
        """
        ...


class DeliveryReader(Protocol):
    def get(self, message_id: str) -> DeliveryRecord | None: ...


class MtReader(Protocol):
    def get(self, message_id: str) -> MtRecord | None: ...


# --- emulating an MO -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EmulatedMo:
    partner_id: str
    service_id: str
    text: str
    msisdn: str | None = None  # as the partner wrote it; the settings' test number if None
    short_number: str | None = None  # one of the service's numbers (digits); its first if None
    idempotency_key: str | None = None


def emulate_mo(
    request: EmulatedMo,
    *,
    now: datetime,
    entities: EntityReader,
    store: InboundStore,
    log: HandlerTestLog,
    events: EventPublisher,
    limits: HandlerTestLimits,
) -> StoredMo:
    """Store and queue a test MO for the caller's own active service; the stored MO."""
    service = _own_service(entities, request.partner_id, request.service_id)
    if service.status is not ServiceStatus.ACTIVE:
        raise HandlerTestUnavailable("service_not_active", f"the service is {service.status.value}")
    number = _number(entities, service, request.short_number)
    try:
        msisdn = normalise_msisdn(request.msisdn or limits.msisdn_default, default_country_code=None)
    except MsisdnError:
        raise HandlerTestInvalid("msisdn", "not an international (E.164) number") from None
    text = request.text.strip()
    if not text:
        raise HandlerTestInvalid("text", "empty")
    message_id = (
        derived_id("test-mo", request.partner_id, request.idempotency_key)
        if request.idempotency_key
        else uuid.uuid4().hex
    )
    stored = store.put_if_absent(
        StoredMo(
            message_id=message_id,
            link_id=TEST_LINK_ID,
            operator_id=number.operator_id,
            operator_message_id=f"test-{message_id}",
            source=f"+{msisdn}",
            destination=number.number,
            text=with_prefix(text, service.prefix, _lookalikes(entities)),
            state=MoState.RECEIVED,
            received_at=now,
            is_test=True,
        )
    )
    entry = HandlerTestEntry(
        service_id=service.service_id,
        message_id=stored.message_id,
        partner_id=request.partner_id,
        received_at=stored.received_at,
    )
    log.add(entry, expires_at_s=int(stored.received_at.timestamp()) + limits.log_keep_s)
    if not stored.state.is_final:
        events.publish_mo_received(
            MoReceived(message_id=stored.message_id, link_id=stored.link_id, received_at=stored.received_at)
        )
    return stored


def with_prefix(text: str, prefix: str, lookalikes: dict[str, str] | None = None) -> str:
    """``text`` as it must reach the service: its first word folds to the prefix, or the prefix goes first."""
    if split_keyword(text, lookalikes).folded == fold(prefix, lookalikes):
        return text
    return f"{prefix} {text}"


def _own_service(entities: EntityReader, partner_id: str, service_id: str) -> PartnerService:
    service = entities.get(PartnerService, service_id)
    if service is None or service.partner_id != partner_id:
        raise HandlerTestNotFound(f"no service {service_id}")
    return service


def _number(entities: EntityReader, service: PartnerService, wanted: str | None) -> ShortNumber:
    for number_id in service.short_numbers:
        if wanted is None or number_id.split("#", 1)[-1] == wanted:
            number = entities.get(ShortNumber, number_id)
            if number is None:
                raise HandlerTestUnavailable("service_misconfigured", f"short number {number_id} is missing")
            return number
    raise HandlerTestInvalid("short_number", "not one of the service's short numbers")


def _lookalikes(entities: EntityReader) -> dict[str, str] | None:
    """The admin's extra look-alikes, as the MO processor applies them (an invalid table: none)."""
    config = entities.get(RoutingConfig, "default")
    if config is None or not config.lookalikes:
        return None
    try:
        fold("", config.lookalikes)
    except ValueError:
        return None
    return dict(config.lookalikes)


# --- the test log ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HandlerTestLine:
    """One test MO with what became of it (None: that step has not happened yet)."""

    mo: StoredMo
    delivery: DeliveryRecord | None
    reply_mt_id: str | None
    reply: MtRecord | None


def read_test_log(
    partner_id: str,
    service_id: str,
    *,
    limit: int,
    after: str | None,
    entities: EntityReader,
    log: HandlerTestLog,
    mos: InboundStore,
    deliveries: DeliveryReader,
    mts: MtReader,
) -> tuple[list[HandlerTestLine], str | None]:
    """The service's test MOs, newest first, and the cursor of the next page."""
    _own_service(entities, partner_id, service_id)
    entries, cursor = log.recent(service_id, limit=limit, after=after)
    lines: list[HandlerTestLine] = []
    for entry in entries:
        mo = mos.get(entry.message_id)
        if entry.partner_id != partner_id or mo is None or not mo.is_test:
            continue  # written by no test of this partner's: never shown
        delivery = deliveries.get(mo.message_id)
        mt_id = delivery.reply_mt_id if delivery is not None else None
        reply = mts.get(mt_id or reply_mt_id(mo.message_id))
        lines.append(HandlerTestLine(mo, delivery, reply.message_id if reply else mt_id, reply))
    return lines, cursor

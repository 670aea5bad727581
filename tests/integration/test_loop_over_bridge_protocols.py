"""The premium loop over each of the bridge's client protocols (SMPP, UCP/EMI, CIMD2) on the deployed stack.

As `make run` wires it: one operator with an SMSC per protocol (the operator simulator, one process
each) and an OperatorLink of that protocol to each, and the bridge process bound to all three. For
each protocol, an MO injected at that SMSC (its control endpoint ``/mo``) goes SMSC -> bridge (UCP
OT 52 / CIMD2 op 20 / deliver_sm) -> messages table -> MO processor (routed to the partner's
service, charged) -> partner delivery (a signed POST to DemoPartner, which answers with a reply) ->
reply MT on the MO's link -> bridge submit over the same protocol -> the SMSC's submit answer and
receipt back through the bridge -> the MT ends ``delivered`` and the partner gets its status
callback. The MT's operator message id has the protocol's own form (UCP/CIMD2 ``recipient:SCTS``,
SMPP the simulator's decimal id), so the submit did go over that link.
"""

from __future__ import annotations

import functools
import json
import subprocess
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from infra import run_local
from infra.demo_peers import DemoPartner
from infra.localcloud import free_port
from smsbilling.adapters.dynamodb_entities import DynamoEntityStore
from smsbilling.adapters.dynamodb_inbound import DynamoInboundStore
from smsbilling.adapters.dynamodb_ledger import DynamoDbLedgerStore
from smsbilling.adapters.dynamodb_mt import DynamoMtStore
from smsbilling.domain import accounts
from smsbilling.domain.accounts import Book
from smsbilling.domain.delivery_log import reply_mt_id
from smsbilling.domain.entities import (
    BillingModel,
    HandlerKind,
    Operator,
    OperatorLink,
    Partner,
    PartnerService,
    PartnerStatus,
    Protocol,
    ServiceStatus,
    ShortNumber,
)
from smsbilling.domain.inbound import MoState
from smsbilling.domain.ledger import TransferKind, TransferState, transfer_id
from smsbilling.domain.mt import MtState
from smsbilling.logic.mo_processing import claim_prefix
from smsbilling.ports import MtRecord
from tests.conftest import Stack
from tests.integration.billing_world import price_numbers
from tests.integration.test_operator_forms import wait_for

pytestmark = pytest.mark.localcloud

PRICE = 150  # GBP minor units incl. 20 % VAT: VAT 25, operator 50, platform 22, partner 53
NUMBER = "7001"
SECRET = "whsec_protocols_0123456789abcdef"
TIMEOUT_S = 90.0
# The bridge's outbound visibility here: the least its settings allow (> submit wait 30 s + response
# timeout 30 s). At-least-once: a long poll the busy emulator answered too late for the client has
# taken the message all the same, and it comes back only after this; the MT wait allows for one.
OUTBOUND_VISIBILITY_S = 61
MT_TIMEOUT_S = TIMEOUT_S + OUTBOUND_VISIBILITY_S
PROTOCOLS = (Protocol.SMPP, Protocol.UCP, Protocol.CIMD2)
MSISDN = {Protocol.SMPP: "447700900301", Protocol.UCP: "447700900302", Protocol.CIMD2: "447700900303"}


def control(port: int, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=data, method="POST" if data else "GET"
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return dict(json.loads(response.read()))


def _bound(control_port: int) -> bool:
    """The bridge is logged in to that simulator."""
    return int(control(control_port, "/stats")["bound"]) > 0


@dataclass
class World:
    stack: Stack
    partner: DemoPartner
    operator_id: str
    partner_id: str
    service: PartnerService
    links: dict[Protocol, str]
    controls: dict[Protocol, int]

    @property
    def dynamodb(self) -> Any:
        return self.stack.client("dynamodb")


@pytest.fixture(scope="module")
def world(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    suffix = uuid.uuid4().hex[:8]
    operator_id, partner_id = f"op-proto-{suffix}", f"p-proto-{suffix}"
    links = {p: f"l-{p.value}-{suffix}" for p in PROTOCOLS}
    workdir: Path = tmp_path_factory.mktemp("protocols")
    partner = DemoPartner(secrets=[SECRET])
    entities = DynamoEntityStore(stack.client("dynamodb"), stack.outputs["EntitiesTableName"])
    number = ShortNumber(
        operator_id=operator_id, number=NUMBER, billing_model=BillingModel.MO, tariff_plan_id=f"plan-{suffix}"
    )
    service = PartnerService(
        service_id=f"svc-proto-{suffix}",
        partner_id=partner_id,
        name="Protocols quiz",
        prefix="PROTO",
        short_numbers=(number.entity_id,),
        handler_kind=HandlerKind.HTTP_POST_SYNC,
        handler_url=f"{partner.url}/mo",
        status_url=f"{partner.url}/status",
        status=ServiceStatus.ACTIVE,
    )
    for entity in (
        Operator(operator_id=operator_id, name="Protocols Mobile", country_code="44", currency="GBP"),
        number,
        Partner(
            partner_id=partner_id,
            name="Protocols partner",
            email="protocols@example.com",
            status=PartnerStatus.ACTIVE,
            created_at=datetime.now(UTC),
            callback_secrets=(SECRET,),
        ),
        service,
    ):
        entities.put(entity)
    claim_prefix(entities, service, number.entity_id)
    price_numbers(
        stack,
        plan_id=f"plan-{suffix}",
        partner_id=partner_id,
        operator_id=operator_id,
        numbers=[NUMBER],
        price=PRICE,
    )
    simulators: list[subprocess.Popen[bytes]] = []
    bridge: subprocess.Popen[bytes] | None = None
    controls: dict[Protocol, int] = {}
    try:
        for protocol in PROTOCOLS:
            simulator, ports = run_local.start_simulator(workdir, protocol)
            simulators.append(simulator)
            controls[protocol] = ports["control"]
            run_local.put_link(
                stack.client("dynamodb"),
                stack.outputs["EntitiesTableName"],
                operator_id,
                ports["smpp"],
                protocol,
                link_id=links[protocol],
            )
        with pytest.MonkeyPatch.context() as env:
            env.setenv("SMSBILLING_BRIDGE__OUTBOUND_VISIBILITY_S", str(OUTBOUND_VISIBILITY_S))
            bridge = run_local.start_bridge(stack.cloud, free_port(), free_port())
        for port in controls.values():
            wait_for(functools.partial(_bound, port), 30)
        yield World(stack, partner, operator_id, partner_id, service, links, controls)
    finally:
        run_local.stop_processes([bridge] if bridge else [], timeout_s=15)  # unbinds from live SMSCs
        run_local.stop_processes(simulators, timeout_s=10)
        for link_id in links.values():  # later bridges in this session need not dial dead SMSCs
            entities.delete(OperatorLink, link_id)
        partner.close()
        log = stack.cloud.workdir / "bridge.log"
        if log.exists():
            print("--- bridge.log (tail) ---\n" + "\n".join(log.read_text().splitlines()[-40:]))


def _mo_id(world: World, protocol: Protocol, text: str) -> str:
    """The platform's id of the MO the bridge stored from ``protocol``'s link with ``text``."""

    def stored() -> str | None:
        items = world.dynamodb.scan(
            TableName=world.stack.outputs["MessagesTableName"],
            FilterExpression="link_id = :l AND payload_hex = :p",
            ExpressionAttributeValues={
                ":l": {"S": world.links[protocol]},
                ":p": {"S": text.encode().hex()},
            },
        )["Items"]
        return items[0]["pk"]["S"].removeprefix("MSG#") if items else None

    found: str = wait_for(stored, TIMEOUT_S)
    return found


def _final_mt(world: World, mt_id: str) -> MtRecord:
    store = DynamoMtStore(world.dynamodb, world.stack.outputs["MessagesTableName"])
    try:
        record: MtRecord = wait_for(
            lambda: (r := store.get(mt_id)) is not None and r.mt.state.is_final and r, MT_TIMEOUT_S
        )
    except AssertionError as error:  # say where it stopped
        raise AssertionError(f"MT {mt_id} not final: {store.get(mt_id)!r}") from error
    return record


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=[p.value for p in PROTOCOLS])
def test_a_paid_mo_over_the_link_is_answered_over_the_same_link_and_ends_delivered(
    world: World, protocol: Protocol
) -> None:
    msisdn, text = MSISDN[protocol], f"proto {protocol.value} {uuid.uuid4().hex[:6]}"
    control_port = world.controls[protocol]
    before = control(control_port, "/stats")
    control(control_port, "/mo", {"source": msisdn, "destination": NUMBER, "text": text})

    mo_id = _mo_id(world, protocol, text)
    inbound = DynamoInboundStore(world.dynamodb, world.stack.outputs["MessagesTableName"])
    mo = wait_for(lambda: (m := inbound.get(mo_id)) is not None and m.state.is_final and m, TIMEOUT_S)
    assert (mo.state, mo.service_id, mo.msisdn, mo.charged_amount, mo.link_id) == (
        MoState.ROUTED,
        world.service.service_id,
        msisdn,
        PRICE,
        world.links[protocol],
    )
    call = world.partner.wait_for(lambda r: r.path == "/mo" and mo_id in r.body.decode(), TIMEOUT_S)
    assert call.signature_ok and call.json()["text"] == text

    mt = _final_mt(world, reply_mt_id(mo_id))
    assert (mt.mt.state, mt.text, mt.destination, mt.source, mt.link_id) == (
        MtState.DELIVERED,
        f"Thank you! We got: {text}",
        msisdn,
        NUMBER,
        world.links[protocol],
    )
    [part] = mt.mt.parts
    assert part.state is MtState.DELIVERED and part.operator_id
    if protocol is Protocol.SMPP:  # the SMPP simulator's ids are decimal
        assert part.operator_id.isdigit()
    else:  # UCP SM = AdC:SCTS, CIMD2 021 + 060: the recipient and the SMSC's time stamp
        recipient, _, scts = part.operator_id.partition(":")
        assert recipient.removeprefix("+") == msisdn and len(scts) == 12 and scts.isdigit()

    after = control(control_port, "/stats")  # the SMSC saw our reply and had its MO and receipt taken
    assert after["submits_accepted"] - before["submits_accepted"] == 1
    assert after["receipts_queued"] - before["receipts_queued"] == 1
    assert after["delivers_acked"] - before["delivers_acked"] >= 2

    callback = world.partner.wait_for(
        lambda r: r.path == "/status" and r.json()["message_id"] == mt.message_id, TIMEOUT_S
    )
    assert callback.signature_ok
    assert (callback.json()["status"], callback.json()["in_reply_to"]) == ("delivered", mo_id)

    ledger = DynamoDbLedgerStore(world.stack.outputs["LedgerTableName"], world.dynamodb)
    charge = ledger.get_transfer(transfer_id(mo_id, str(TransferKind.MO_CHARGE)))
    assert charge is not None and charge.state is TransferState.POSTED
    assert {leg.account: leg.amount for leg in charge.transfer.legs} == {
        accounts.operator(world.operator_id, Book.RECEIVABLE): 100,
        accounts.platform(Book.VAT_PAYABLE): -25,
        accounts.platform(Book.REVENUE): -22,
        accounts.partner(world.partner_id, Book.EARNED_PENDING): -53,
    }

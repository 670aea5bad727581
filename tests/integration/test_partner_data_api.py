"""Messages, statistics, balance and statements over real HTTP on the deployed stack.

Real MOs enter through the operator link and run the whole premium loop (MO processor, partner
delivery to a signed handler, reply MTs to an HTTP SMSC whose receipts come back): MO-billed
charges, an MT-billed reply that is delivered and one that is not. Then the partner reads its
messages, statistics, balance and statement through the partner API, and they agree with the
ledger; a second partner's key sees none of it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from infra.demo_peers import DemoOperator, DemoPartner
from smsbilling.adapters.dynamodb_entities import DynamoEntityStore
from smsbilling.adapters.dynamodb_inbound import DynamoInboundStore
from smsbilling.adapters.dynamodb_ledger import DynamoDbLedgerStore
from smsbilling.adapters.dynamodb_mt import DynamoMtStore
from smsbilling.domain import accounts
from smsbilling.domain.accounts import Book
from smsbilling.domain.delivery_log import reply_mt_id
from smsbilling.domain.entities import (
    ApiKey,
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
from smsbilling.domain.secrets import hash_token
from smsbilling.logic.mo_processing import claim_prefix
from tests.conftest import Stack
from tests.integration.billing_world import price_numbers
from tests.integration.test_operator_forms import wait_for

pytestmark = pytest.mark.localcloud

PRICE, SHARE = 150, 53  # billing_world: 1.50 incl. VAT, the partner's share 0.53
MO_NUMBER, MT_NUMBER = "7101", "7102"
LINK_TOKEN, MT_TOKEN = "data-link-token", "data-operator-mt-token"
SECRET = "whsec_data_api_0123456789abcdef"
TIMEOUT_S = 90.0
SUBSCRIBER, OTHER_SUBSCRIBER = "447700900321", "447700900654"


@dataclass
class DataWorld:
    stack: Stack
    link_id: str
    partner_id: str
    other_partner_id: str
    keys: dict[str, str]
    quiz: str
    game: str

    def send_mo(self, text: str, msisdn: str = SUBSCRIBER, number: str = MO_NUMBER) -> str:
        answer = self.stack.api.post(
            f"/operator/links/{self.link_id}/mo",
            json={
                "operator_message_id": uuid.uuid4().hex,
                "source": f"+{msisdn}",
                "destination": number,
                "text": text,
            },
            headers={"Authorization": f"Bearer {LINK_TOKEN}"},
        )
        assert answer.status_code == 202, answer.text
        message_id: str = answer.json()["message_id"]
        return message_id

    def get(self, path: str, params: dict[str, str] | None = None, *, partner: str = "a") -> tuple[int, Any]:
        answer = self.stack.api.get(
            path, params=params, headers={"Authorization": f"Bearer {self.keys[partner]}"}
        )
        return answer.status_code, answer.json()

    def pages(
        self, path: str, params: dict[str, str] | None = None, *, partner: str = "a"
    ) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        query = dict(params or {})
        for _ in range(50):
            status, body = self.get(path, query, partner=partner)
            assert status == 200, body
            assert len(body["items"]) <= int(query.get("limit", "50"))
            items += body["items"]
            if body["next_cursor"] is None:
                return items
            query["cursor"] = body["next_cursor"]
        raise AssertionError("the listing never ended")

    @property
    def ledger(self) -> DynamoDbLedgerStore:
        return DynamoDbLedgerStore(self.stack.outputs["LedgerTableName"], self.stack.client("dynamodb"))


@pytest.fixture(scope="module")
def world(stack: Stack) -> Iterator[DataWorld]:
    suffix = uuid.uuid4().hex[:8]
    operator_id, link_id = f"op-data-{suffix}", f"l-data-{suffix}"
    partner_id, other_id = f"p-data-{suffix}", f"p-data-other-{suffix}"
    handler = DemoPartner(secrets=[SECRET], reply=lambda text: f"Answer to {text}")
    operator = DemoOperator(
        MT_TOKEN,
        dlr_url=f"{stack.cloud.api_base}/operator/links/{link_id}/dlr",
        dlr_token=LINK_TOKEN,
        dlr_delay_s=0.2,
        outcome=lambda mt: "undelivered" if "FAIL" in mt.get("text", "") else "delivered",
    )
    entities = DynamoEntityStore(stack.client("dynamodb"), stack.outputs["EntitiesTableName"])
    now = datetime.now(UTC)
    mo_number = ShortNumber(operator_id=operator_id, number=MO_NUMBER, tariff_plan_id=f"plan-{suffix}")
    mt_number = ShortNumber(
        operator_id=operator_id,
        number=MT_NUMBER,
        billing_model=BillingModel.MT,
        tariff_plan_id=f"plan-{suffix}",
    )

    def service(name: str, owner: str, number: ShortNumber) -> PartnerService:
        return PartnerService(
            service_id=f"svc-{name.lower()}-{suffix}",
            partner_id=owner,
            name=name,
            prefix=name,
            short_numbers=(number.entity_id,),
            handler_kind=HandlerKind.HTTP_POST_SYNC,
            handler_url=f"{handler.url}/mo",
            status_url=f"{handler.url}/status",
            status=ServiceStatus.ACTIVE,
        )

    services = [service("DQUIZ", partner_id, mo_number), service("DGAME", partner_id, mt_number)]
    services.append(service("DOTHER", other_id, mo_number))
    keys = {"a": f"sk_data_a_{suffix}_0123456789", "b": f"sk_data_b_{suffix}_0123456789"}
    for entity in (
        Operator(operator_id=operator_id, name="Data Mobile", country_code="44", currency="GBP"),
        OperatorLink(
            link_id=link_id,
            operator_id=operator_id,
            protocol=Protocol.HTTP,
            http_token_hash=hash_token(LINK_TOKEN),
            mt_url=f"{operator.url}/mt",
            mt_token=MT_TOKEN,
        ),
        mo_number,
        mt_number,
        *[
            Partner(
                partner_id=pid,
                name=pid,
                email=f"{pid}@example.com",
                status=PartnerStatus.ACTIVE,
                created_at=now,
                callback_secrets=(SECRET,),
            )
            for pid in (partner_id, other_id)
        ],
        *services,
        *[
            ApiKey(key_hash=hash_token(key), key_id=f"k-{who}-{suffix}", partner_id=pid, created_at=now)
            for who, key, pid in (("a", keys["a"], partner_id), ("b", keys["b"], other_id))
        ],
    ):
        entities.put(entity)
    for svc in services:
        claim_prefix(entities, svc, svc.short_numbers[0])
    for pid in (partner_id, other_id):
        price_numbers(
            stack,
            plan_id=f"plan-{pid}",
            partner_id=pid,
            operator_id=operator_id,
            numbers=[MO_NUMBER, MT_NUMBER],
            price=PRICE,
        )
    try:
        yield DataWorld(
            stack, link_id, partner_id, other_id, keys, services[0].service_id, services[1].service_id
        )
    finally:
        handler.close()
        operator.close()


@pytest.fixture(scope="module")
def traffic(world: DataWorld) -> dict[str, Any]:
    """Three MO-billed quiz MOs (one from another subscriber), two MT-billed game MOs whose billed
    replies are delivered / undelivered, and the other partner's MO; waited for until settled."""
    quiz = [world.send_mo(f"dquiz {n}", msisdn=OTHER_SUBSCRIBER if n == 2 else SUBSCRIBER) for n in range(3)]
    game_ok = world.send_mo("dgame win", number=MT_NUMBER)
    game_fail = world.send_mo("dgame FAIL", number=MT_NUMBER)
    other = world.send_mo("dother 1")
    mos = DynamoInboundStore(world.stack.client("dynamodb"), world.stack.outputs["MessagesTableName"])
    mts = DynamoMtStore(world.stack.client("dynamodb"), world.stack.outputs["MessagesTableName"])
    for mo_id in [*quiz, game_ok, game_fail, other]:
        mo = wait_for(lambda m=mo_id: (r := mos.get(m)) is not None and r.state.is_final and r, TIMEOUT_S)
        assert mo.state is MoState.ROUTED, mo
    replies = {mo_id: reply_mt_id(mo_id) for mo_id in [*quiz, game_ok, game_fail, other]}
    for mt_id in replies.values():
        wait_for(lambda m=mt_id: (r := mts.get(m)) is not None and r.mt.state.is_final and r, TIMEOUT_S)
    for mo_id, state in ((game_ok, TransferState.POSTED), (game_fail, TransferState.VOIDED)):
        tid = transfer_id(replies[mo_id], str(TransferKind.MT_CHARGE))
        wait_for(
            lambda t=tid, s=state: (r := world.ledger.get_transfer(t)) is not None and r.state is s, TIMEOUT_S
        )
    assert mts.get(replies[game_fail]).mt.state is MtState.UNDELIVERED  # type: ignore[union-attr]
    return {"quiz": quiz, "game_ok": game_ok, "game_fail": game_fail, "other": other, "replies": replies}


def _days() -> dict[str, str]:
    today = datetime.now(UTC).date()
    return {"from": str(today - timedelta(days=1)), "to": str(today + timedelta(days=1))}


def test_messages_list_search_and_paginate(world: DataWorld, traffic: dict[str, Any]) -> None:
    mine = [*traffic["quiz"], traffic["game_ok"], traffic["game_fail"]]
    expected = set(mine) | {traffic["replies"][m] for m in mine}

    def complete() -> list[dict[str, Any]] | None:  # the index follows the records by a moment
        items = world.pages("/v1/messages", {"limit": "3"})
        return items if {i["message_id"] for i in items} == expected else None

    listed: list[dict[str, Any]] = wait_for(complete, TIMEOUT_S)
    assert len(listed) == len(expected) == 10
    times = [datetime.fromisoformat(i["at"]) for i in listed]
    assert times == sorted(times, reverse=True)
    by_id = {i["message_id"]: i for i in listed}
    quiz_mo = by_id[traffic["quiz"][0]]
    assert (quiz_mo["direction"], quiz_mo["status"], quiz_mo["price"], quiz_mo["service_id"]) == (
        "mo",
        "routed",
        PRICE,
        world.quiz,
    )
    failed = by_id[traffic["replies"][traffic["game_fail"]]]
    assert (failed["direction"], failed["status"], failed["billed"]) == ("mt", "undelivered", True)

    only = world.pages("/v1/messages", {"msisdn": f"+{OTHER_SUBSCRIBER}"})
    assert {i["message_id"] for i in only} == {traffic["quiz"][2], traffic["replies"][traffic["quiz"][2]]}
    undelivered = world.pages("/v1/messages", {"direction": "mt", "status": "undelivered"})
    assert [i["message_id"] for i in undelivered] == [traffic["replies"][traffic["game_fail"]]]
    game = world.pages("/v1/messages", {"service_id": world.game, "direction": "mo"})
    assert {i["message_id"] for i in game} == {traffic["game_ok"], traffic["game_fail"]}
    since = times[3]  # from is inclusive
    assert world.pages("/v1/messages", {"from": listed[3]["at"]}) == [
        i for i, at in zip(listed, times, strict=True) if at >= since
    ]

    status, one = world.get(f"/v1/messages/{traffic['quiz'][1]}")
    assert status == 200 and one["text"] == "dquiz 1" and one["msisdn"] == SUBSCRIBER
    cursor = world.get("/v1/messages", {"limit": "2"})[1]["next_cursor"]
    status, body = world.get("/v1/messages", {"limit": "2", "cursor": f"x{cursor}"})
    assert (status, body["code"]) == (400, "invalid_cursor")


def test_statistics_balance_and_statement_match_the_charges(
    world: DataWorld, traffic: dict[str, Any]
) -> None:
    status, stats = world.get("/v1/statistics", _days() | {"group_by": "service,short_number"})
    assert status == 200, stats
    rows = {(r["service_id"], r["short_number"]): r for r in stats["rows"]}
    assert set(rows) == {(world.quiz, MO_NUMBER), (world.game, MT_NUMBER)}
    assert (rows[world.quiz, MO_NUMBER]["charged"], rows[world.quiz, MO_NUMBER]["income"]) == (3, 3 * SHARE)
    game = rows[world.game, MT_NUMBER]
    assert (game["charged"], game["income"], game["pending"], game["voided"]) == (1, SHARE, 0, 1)
    [total] = stats["totals"]
    earned = world.ledger.balance(accounts.partner(world.partner_id, Book.EARNED_PENDING))
    assert total["currency"] == "GBP" and total["income"] == earned.posted == 4 * SHARE

    status, balance = world.get("/v1/balance")
    assert status == 200
    assert balance["money"]["earned"] == earned.posted and balance["money"]["earned_awaiting_delivery"] == 0
    assert balance["money"]["currency"] == "GBP" and balance["credits"]["balance"] == 0

    lines = world.pages("/v1/statements", {"limit": "2"})
    references = {line["reference"]: line for line in lines}
    billed_ok = traffic["replies"][traffic["game_ok"]]
    billed_fail = traffic["replies"][traffic["game_fail"]]
    assert set(references) == {*traffic["quiz"], billed_ok, billed_fail}
    assert references[billed_fail]["state"] == "voided" and references[billed_ok]["kind"] == "mt_charge"
    assert sum(e["amount"] for line in lines for e in line["entries"]) == earned.posted
    assert all(e["account"] == "earned_pending" for line in lines for e in line["entries"])


def test_another_partners_key_sees_none_of_it(world: DataWorld, traffic: dict[str, Any]) -> None:
    other = traffic["other"]
    listed = wait_for(lambda: world.pages("/v1/messages", partner="b"), TIMEOUT_S)
    assert {i["message_id"] for i in listed} <= {other, traffic["replies"][other]}
    for mo_id in (traffic["quiz"][0], traffic["replies"][traffic["game_ok"]]):
        status, body = world.get(f"/v1/messages/{mo_id}", partner="b")
        assert (status, body["code"]) == (404, "not_found")
    status, body = world.get(f"/v1/messages/{other}", partner="a")
    assert (status, body["code"]) == (404, "not_found")
    status, stats = world.get("/v1/statistics", _days(), partner="b")
    assert status == 200 and [(t["charged"], t["income"]) for t in stats["totals"]] == [(1, SHARE)]
    lines = world.pages("/v1/statements", partner="b")
    assert [line["reference"] for line in lines] == [other]
    cursor = world.get("/v1/statements", {"limit": "1"})[1]["next_cursor"]
    status, body = world.get("/v1/statements", {"limit": "1", "cursor": cursor}, partner="b")
    assert (status, body["code"]) == (400, "invalid_cursor")

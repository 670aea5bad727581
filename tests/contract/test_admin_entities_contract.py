"""The entity-store methods the admin API needs, one contract for the fake and DynamoDB.

Listings page through gsi1 by an opaque cursor (a page may be short: follow the cursor until it is
None), ``update`` writes only the fields named, ``delete`` says whether something was there.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from smsbilling.adapters.dynamodb_entities import DynamoEntityStore, InvalidCursor, encode_cursor
from smsbilling.adapters.memory_entities import MemoryEntityStore
from smsbilling.domain.entities import (
    AdminAuditEntry,
    AdminKey,
    BlacklistEntry,
    HandlerKind,
    Operator,
    OperatorLink,
    Partner,
    PartnerService,
    Protocol,
    ReservedPrefix,
    ServiceStatus,
    ShortNumber,
)
from tests.contract.stores import KINDS, dynamodb_client

T0 = datetime(2026, 3, 1, 23, 59, 58, tzinfo=UTC)
Store = MemoryEntityStore | DynamoEntityStore


def _table_with_gsi1(client: Any) -> str:
    """The entities table as the template declares it (pk/sk and gsi1)."""
    table = f"entities-{uuid.uuid4().hex[:12]}"
    keys = [("pk", "HASH"), ("sk", "RANGE")]
    client.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk", "gsi1pk", "gsi1sk")
        ],
        KeySchema=[{"AttributeName": name, "KeyType": kind} for name, kind in keys],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "gsi1",
                "KeySchema": [{"AttributeName": f"gsi1{name}", "KeyType": kind} for name, kind in keys],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    client.get_waiter("table_exists").wait(TableName=table)
    return table


@pytest.fixture(params=KINDS)
def entities(request: pytest.FixtureRequest) -> Store:
    if request.param == "memory":
        return MemoryEntityStore()
    client = dynamodb_client(request, request.param)
    return DynamoEntityStore(client, _table_with_gsi1(client))


def every_page[T](fetch: Callable[[str | None], tuple[list[T], str | None]]) -> tuple[list[T], int]:
    """Follow the cursor to the end: (everything, pages read)."""
    found: list[T] = []
    cursor: str | None = None
    for pages in range(1, 100):
        items, cursor = fetch(cursor)
        found.extend(items)
        if cursor is None:
            return found, pages
    raise AssertionError("the cursor never ended")


def partner(partner_id: str) -> Partner:
    return Partner(partner_id=partner_id, name=partner_id.upper(), email="p@example.com", created_at=T0)


def service(service_id: str, partner_id: str, status: ServiceStatus) -> PartnerService:
    return PartnerService(
        service_id=service_id,
        partner_id=partner_id,
        name=service_id,
        prefix=service_id.upper(),
        short_numbers=("op1#4444",),
        handler_kind=HandlerKind.HTTP_GET,
        handler_url="https://example.com/mo",
        status=status,
    )


def test_partners_are_listed_by_id_a_page_at_a_time(entities: Store) -> None:
    for n in (5, 3, 1, 4, 2):
        entities.put(partner(f"p{n}"))
    entities.put(Operator(operator_id="p0", name="not a partner", country_code="44", currency="GBP"))

    first, cursor = entities.partners(limit=2)
    assert [p.partner_id for p in first] == ["p1", "p2"] and cursor is not None
    everything, pages = every_page(lambda c: entities.partners(limit=2, cursor=c))
    assert [p.partner_id for p in everything] == ["p1", "p2", "p3", "p4", "p5"]
    assert everything[0] == partner("p1")  # every field comes back, the index keys never leak in
    assert pages >= 3
    assert entities.partners(limit=50) == (everything, None)


def test_services_are_listed_per_partner_and_by_status(entities: Store) -> None:
    rows = [
        ("s1", "pa", ServiceStatus.ACTIVE),
        ("s2", "pa", ServiceStatus.PENDING_MODERATION),
        ("s3", "pb", ServiceStatus.PENDING_MODERATION),
        ("s4", "pab", ServiceStatus.PENDING_MODERATION),  # "pa" is a prefix of its partner id
        ("s0", "pb", ServiceStatus.REJECTED),
    ]
    for service_id, partner_id, status in rows:
        entities.put(service(service_id, partner_id, status))

    everything, _ = every_page(lambda c: entities.services(limit=2, cursor=c))
    assert [(s.partner_id, s.service_id) for s in everything] == [
        ("pa", "s1"),
        ("pa", "s2"),
        ("pab", "s4"),
        ("pb", "s0"),
        ("pb", "s3"),
    ]
    of_pa, _ = every_page(lambda c: entities.services("pa", limit=1, cursor=c))
    assert [s.service_id for s in of_pa] == ["s1", "s2"]
    pending, _ = every_page(
        lambda c: entities.services(status=ServiceStatus.PENDING_MODERATION, limit=2, cursor=c)
    )
    assert [s.service_id for s in pending] == ["s2", "s4", "s3"]
    pending_of_pb, _ = every_page(
        lambda c: entities.services("pb", status=ServiceStatus.PENDING_MODERATION, limit=1, cursor=c)
    )
    assert [s.service_id for s in pending_of_pb] == ["s3"]


def test_short_numbers_blacklists_reserved_prefixes_and_admin_keys_are_listed(entities: Store) -> None:
    for operator_id, number in (("op2", "1111"), ("op1", "5555"), ("op1", "4444"), ("op10", "3333")):
        entities.put(ShortNumber(operator_id=operator_id, number=number, tariff_plan_id="plan"))
    for scope, msisdn in (("*", "447700900002"), ("*", "447700900001"), ("p1", "447700900003")):
        entities.put(BlacklistEntry(scope=scope, msisdn=msisdn, created_at=T0))
    for word in ("STOP", "HELP"):
        entities.put(ReservedPrefix(folded=word.lower(), word=word, kind="reserved", created_at=T0))
    for key_id in ("k2", "k1"):
        entities.put(AdminKey(key_hash=key_id[-1] * 64, key_id=key_id, name="ops", created_at=T0))

    numbers, _ = every_page(lambda c: entities.short_numbers(limit=1, cursor=c))
    assert [n.entity_id for n in numbers] == ["op1#4444", "op1#5555", "op10#3333", "op2#1111"]
    assert [n.number for n in entities.short_numbers("op1", limit=10)[0]] == ["4444", "5555"]
    assert [e.msisdn for e in entities.blacklist("*", limit=10)[0]] == ["447700900001", "447700900002"]
    assert [e.msisdn for e in entities.blacklist("p1", limit=10)[0]] == ["447700900003"]
    assert entities.blacklist("p2", limit=10) == ([], None)
    assert [r.folded for r in entities.reserved_prefixes(limit=10)[0]] == ["help", "stop"]
    assert [k.key_id for k in entities.admin_keys(limit=10)[0]] == ["k1", "k2"]


def test_audit_entries_are_listed_per_utc_day_oldest_first(entities: Store) -> None:
    def entry(audit_id: str, at: datetime) -> AdminAuditEntry:
        return AdminAuditEntry(
            audit_id=audit_id,
            at=at,
            admin_key_id="k1",
            action="operator.create",
            target="OPERATOR#op1",
            changes={"name": "Op", "msisdn_prefixes": ["447"], "nested": {"n": 1, "none": None}},
        )

    entries = [
        entry("c", T0 + timedelta(seconds=1)),
        entry("a", T0),
        entry("b", T0),
        entry("d", T0 + timedelta(seconds=3)),  # the next UTC day
        entry("e", T0.astimezone(UTC).replace(hour=0, minute=0, second=0)),
    ]
    for e in entries:
        entities.put(e)
    day, _ = every_page(lambda c: entities.audit_entries(date(2026, 3, 1), limit=2, cursor=c))
    assert [e.audit_id for e in day] == ["e", "a", "b", "c"]
    assert day[1] == entries[1]
    assert day[1].model_dump_json() == entries[1].model_dump_json()  # numbers come back as ints
    assert [e.audit_id for e in entities.audit_entries(date(2026, 3, 2), limit=5)[0]] == ["d"]


def test_a_cursor_of_another_listing_or_a_forged_one_is_refused(entities: Store) -> None:
    for n in range(3):
        entities.put(partner(f"p{n}"))
        entities.put(service(f"s{n}", f"p{n}", ServiceStatus.ACTIVE))
    _, partners_cursor = entities.partners(limit=1)
    assert partners_cursor is not None
    for bad in ("not a cursor!", "e30", partners_cursor):
        with pytest.raises(InvalidCursor):
            entities.services(limit=1, cursor=bad)
    with pytest.raises(InvalidCursor):  # another partner's services
        entities.services("p1", limit=1, cursor=encode_cursor("SERVICE#s0", "p0#s0"))


def test_update_writes_only_the_named_fields_and_keeps_the_index(entities: Store) -> None:
    stored = service("s1", "pa", ServiceStatus.PENDING_MODERATION)
    entities.put(stored)
    # A partner changes its handler meanwhile; the admin's update of the status must not undo it.
    entities.put(stored.model_copy(update={"handler_url": "https://example.com/new"}))
    approved = entities.update(stored.model_copy(update={"status": ServiceStatus.ACTIVE}), ["status"])
    assert approved is not None
    assert approved.status is ServiceStatus.ACTIVE and approved.handler_url == "https://example.com/new"
    assert entities.get(PartnerService, "s1") == approved
    assert entities.services("pa", limit=5)[0] == [approved]

    cleared = entities.update(approved.model_copy(update={"status_url": None, "name": "New"}), ["status_url"])
    assert cleared is not None and cleared.status_url is None and cleared.name == "s1"  # name not named

    assert entities.update(service("nope", "pa", ServiceStatus.ACTIVE), ["status"]) is None
    assert entities.get(PartnerService, "nope") is None
    with pytest.raises(ValueError, match="bad fields"):
        entities.update(approved, ["no_such_field"])


def test_update_only_if_writes_only_while_the_stored_field_holds_the_value(entities: Store) -> None:
    stored = service("s1", "pa", ServiceStatus.PENDING_MODERATION)
    entities.put(stored)
    active = stored.model_copy(update={"status": ServiceStatus.ACTIVE})
    pending = {"status": ServiceStatus.PENDING_MODERATION}
    assert entities.update(active, ["status"], only_if=pending) == active
    # A second writer who read it pending too finds it changed: nothing written.
    rejected = stored.model_copy(update={"status": ServiceStatus.REJECTED})
    assert entities.update(rejected, ["status"], only_if=pending) is None
    assert entities.get(PartnerService, "s1") == active
    assert entities.update(service("nope", "pa", ServiceStatus.ACTIVE), ["status"], only_if=pending) is None


def test_update_moves_an_entity_in_its_index(entities: Store) -> None:
    link = OperatorLink(link_id="l1", operator_id="op1", protocol=Protocol.HTTP, mt_token="secret")
    entities.put(link)
    moved = entities.update(link.model_copy(update={"operator_id": "op2"}), ["operator_id"])
    assert moved == link.model_copy(update={"operator_id": "op2"})
    assert [x.link_id for x in entities.links_of("op2")] == ["l1"] and entities.links_of("op1") == []


def test_delete_says_whether_there_was_something(entities: Store) -> None:
    entry = BlacklistEntry(scope="*", msisdn="447700900001", created_at=T0)
    entities.put(entry)
    assert entities.delete(BlacklistEntry, "*#447700900002") is False
    assert entities.delete(Partner, "*#447700900001") is False  # another type with that id
    assert entities.get(BlacklistEntry, entry.entity_id) == entry
    assert entities.delete(BlacklistEntry, entry.entity_id) is True
    assert entities.get(BlacklistEntry, entry.entity_id) is None
    assert entities.blacklist("*", limit=5) == ([], None)
    assert entities.delete(BlacklistEntry, entry.entity_id) is False

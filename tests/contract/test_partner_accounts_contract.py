"""One contract for the partner-account store: the in-memory fake, DynamoDB Local, the local cloud.

Registration, single-use confirmation, the key ring (limit, last ``keys:manage`` key), services with
their prefix claims (all or nothing), updates that write only what changed, and races: many
partners leasing one prefix at once (exactly one wins, the losers leave nothing behind), one token
confirmed by many threads, the last two manage keys revoked at once.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from smsbilling.adapters.dynamodb_partner_accounts import DynamoPartnerAccounts
from smsbilling.adapters.memory_partner_accounts import MemoryPartnerAccounts
from smsbilling.domain.entities import (
    ApiKey,
    ConfirmationToken,
    HandlerKind,
    Partner,
    PartnerEmail,
    PartnerService,
    PartnerStatus,
    PrefixClaim,
    ServiceStatus,
    ShortNumber,
)
from smsbilling.domain.secrets import hash_token
from smsbilling.logic import partner_accounts as accounts
from smsbilling.logic import services
from smsbilling.settings import PartnerAccountLimits
from smsbilling.web.account_deps import AccountsStore

from .stores import KINDS, dynamodb_client

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
RULES = services.Rules(limits=PartnerAccountLimits(), allow_loopback=False)
NUMBERS = ("op1#4444", "op1#5555", "op1#6666")


def _table_with_gsi1(client: Any) -> str:
    """The entities table as the template declares it (pk/sk and gsi1)."""
    table = f"accounts-{uuid.uuid4().hex[:12]}"
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
def store(request: pytest.FixtureRequest) -> AccountsStore:
    if request.param == "memory":
        made: AccountsStore = MemoryPartnerAccounts()
    else:
        client = dynamodb_client(request, request.param)
        made = DynamoPartnerAccounts(client, _table_with_gsi1(client))
    for number_id in NUMBERS:
        operator_id, number = number_id.split("#")
        _put(made, ShortNumber(operator_id=operator_id, number=number, tariff_plan_id="plan1"))
    return made


def _put(store: AccountsStore, entity: Any) -> None:
    """Write an entity as an admin or the demo data would (outside the account store's ports)."""
    if isinstance(store, MemoryPartnerAccounts):
        store.entities.put(entity)
    else:
        store._entities.put(entity)


# --- registration ---------------------------------------------------------------------------------


def registration(name: str, email: str) -> tuple[Partner, PartnerEmail, ConfirmationToken, ApiKey, str]:
    partner = Partner(partner_id=accounts.new_id("ptr"), name=name, email=email, created_at=T0)
    token = f"ct_{uuid.uuid4().hex}"
    stored = ConfirmationToken(
        token_hash=hash_token(token),
        partner_id=partner.partner_id,
        email=email,
        created_at=T0,
        expires_at=T0 + timedelta(hours=1),
    )
    claim = PartnerEmail(address=email, partner_id=partner.partner_id, token_hash=stored.token_hash)
    key = accounts.issue_key(partner.partner_id, ["keys:manage", "services:write"], "first", T0).key
    return partner, claim, stored, key, token


def registered(store: AccountsStore, name: str = "acme") -> tuple[Partner, ApiKey]:
    partner, claim, token, key, _ = registration(name, f"{name}-{uuid.uuid4().hex[:6]}@example.com")
    store.register(partner, claim, token, key)
    store.confirm(token, now=T0)
    return partner, key


def test_one_partner_per_address(store: AccountsStore) -> None:
    first = registration("a", "owner@example.com")
    store.register(*first[:4])
    second = registration("b", "owner@example.com")
    with pytest.raises(accounts.EmailTaken):
        store.register(*second[:4])
    assert store.get(Partner, second[0].partner_id) is None
    assert store.get(ApiKey, second[3].key_hash) is None
    assert store.get(ConfirmationToken, second[2].token_hash) is None
    held = store.get(PartnerEmail, "owner@example.com")
    assert held is not None and held.partner_id == first[0].partner_id


def test_confirmation_is_single_use(store: AccountsStore) -> None:
    partner, claim, token, key, _ = registration("a", "a@example.com")
    store.register(partner, claim, token, key)
    store.confirm(token, now=T0)
    active = store.get(Partner, partner.partner_id)
    confirmed = store.get(PartnerEmail, "a@example.com")
    assert active is not None and active.status is PartnerStatus.ACTIVE
    assert confirmed is not None and confirmed.confirmed_at == T0 and confirmed.token_hash is None
    assert store.get(ConfirmationToken, token.token_hash) is None
    with pytest.raises(accounts.TokenInvalid):
        store.confirm(token, now=T0)


def test_a_renewed_token_replaces_the_old_one(store: AccountsStore) -> None:
    partner, claim, old, key, _ = registration("a", "a@example.com")
    store.register(partner, claim, old, key)
    new = old.model_copy(update={"token_hash": hash_token("ct_new")})
    store.renew_token(claim.model_copy(update={"token_hash": new.token_hash}), new, old.token_hash)
    assert store.get(ConfirmationToken, old.token_hash) is None
    with pytest.raises(accounts.TokenInvalid):
        store.confirm(old, now=T0)
    stale = old.model_copy(update={"token_hash": hash_token("ct_other")})
    with pytest.raises(accounts.WriteConflict):  # the address no longer holds the hash it was read with
        store.renew_token(claim.model_copy(update={"token_hash": stale.token_hash}), stale, old.token_hash)
    store.confirm(new, now=T0)
    with pytest.raises(accounts.WriteConflict):  # confirmed: nothing to renew
        store.renew_token(claim.model_copy(update={"token_hash": stale.token_hash}), stale, None)


def test_confirm_refuses_a_partner_no_longer_pending(store: AccountsStore) -> None:
    partner, claim, token, key, _ = registration("a", "a@example.com")
    store.register(partner, claim, token, key)
    _put(store, partner.model_copy(update={"status": PartnerStatus.SUSPENDED}))
    with pytest.raises(accounts.WriteConflict):
        store.confirm(token, now=T0)
    assert store.get(ConfirmationToken, token.token_hash) is not None  # nothing was used up


# --- keys ------------------------------------------------------------------------------------------


def new_key(partner: Partner, scopes: list[str]) -> ApiKey:
    return accounts.issue_key(partner.partner_id, scopes, "", T0).key


def test_key_limit_and_listing(store: AccountsStore) -> None:
    partner, first = registered(store)
    made = [new_key(partner, ["services:read"]) for _ in range(2)]
    for key in made:
        store.add_key(key, manage=False, keys_max=3)
    with pytest.raises(accounts.KeyLimitReached):
        store.add_key(new_key(partner, ["services:read"]), manage=False, keys_max=3)
    found: list[ApiKey] = []
    cursor = None
    while True:
        page, cursor = store.keys_of(partner.partner_id, limit=2, cursor=cursor)
        found += page
        if cursor is None:
            break
    assert {k.key_id for k in found} == {first.key_id, *(k.key_id for k in made)}
    assert store.key_by_id(partner.partner_id, made[0].key_id) == made[0]
    other, _ = registered(store, "other")
    assert store.key_by_id(other.partner_id, made[0].key_id) is None
    with pytest.raises(accounts.InvalidCursor):
        store.keys_of(partner.partner_id, limit=2, cursor="bm90IGEgY3Vyc29y")


def test_revocation_keeps_a_manage_key(store: AccountsStore) -> None:
    partner, first = registered(store)
    reader = new_key(partner, ["services:read"])
    store.add_key(reader, manage=False, keys_max=10)
    with pytest.raises(accounts.LastManageKey):
        store.revoke_key(first, manage=True, now=T0)
    store.revoke_key(reader, manage=False, now=T0)
    with pytest.raises(accounts.NotFound):
        store.revoke_key(reader, manage=False, now=T0)
    revoked = store.get(ApiKey, reader.key_hash)
    assert revoked is not None and revoked.revoked_at == T0
    # A revoked key leaves room under the limit.
    store.add_key(new_key(partner, ["services:read"]), manage=False, keys_max=2)
    second = new_key(partner, ["keys:manage"])
    with pytest.raises(accounts.KeyLimitReached):
        store.add_key(second, manage=True, keys_max=2)
    store.add_key(second, manage=True, keys_max=3)
    store.revoke_key(first, manage=True, now=T0)
    with pytest.raises(accounts.LastManageKey):
        store.revoke_key(second, manage=True, now=T0)


def test_keys_made_elsewhere_need_a_ring_manage_key_to_go(store: AccountsStore) -> None:
    partner = Partner(partner_id="demo", name="Demo", email="d@example.com", status="active", created_at=T0)
    legacy = ApiKey(key_hash=hash_token("sk_demo"), key_id="demo-key", partner_id="demo", created_at=T0)
    _put(store, partner)
    _put(store, legacy)
    with pytest.raises(accounts.LastManageKey):
        store.revoke_key(legacy, manage=True, now=T0)
    store.add_key(new_key(partner, ["keys:manage"]), manage=True, keys_max=5)
    store.revoke_key(legacy, manage=True, now=T0)


def test_the_last_two_manage_keys_revoked_at_once_leave_one(store: AccountsStore) -> None:
    partner, first = registered(store)
    second = new_key(partner, ["keys:manage"])
    store.add_key(second, manage=True, keys_max=10)
    outcomes = race(
        [
            lambda key=key: accounts.revoke_key(partner.partner_id, key.key_id, now=T0, store=store)
            for key in (first, second)
        ]
    )
    assert sorted(type(o).__name__ for o in outcomes) == ["ApiKey", "LastManageKey"], outcomes
    left = [k for k in (first, second) if (store.get(ApiKey, k.key_hash) or k).revoked_at is None]
    assert len(left) == 1


# --- services and prefix claims ---------------------------------------------------------------


def draft(prefix: str, numbers: tuple[str, ...] = ("op1#4444",)) -> dict[str, Any]:
    return {
        "name": "Quiz",
        "prefix": prefix,
        "short_numbers": list(numbers),
        "handler_kind": HandlerKind.HTTP_POST_SYNC,
        "handler_url": "https://partner.example.com/mo",
    }


def claims_of(store: AccountsStore, prefix: str) -> dict[str, str]:
    found = {}
    for number in NUMBERS:
        claim = store.get(PrefixClaim, f"{number}#{prefix}")
        if claim is not None:
            found[number] = claim.service_id
    return found


def test_a_service_and_its_claims_are_written_together(store: AccountsStore) -> None:
    a, _ = registered(store, "a")
    b, _ = registered(store, "b")
    held = services.create_service(a.partner_id, draft("ABC"), now=T0, store=store, rules=RULES)
    with pytest.raises(services.PrefixUnavailable) as taken:
        services.create_service(
            b.partner_id, draft("abc", ("op1#5555", "op1#4444")), now=T0, store=store, rules=RULES
        )
    assert taken.value.reason == "taken" and taken.value.short_numbers == ("op1#4444",)
    assert claims_of(store, "abc") == {"op1#4444": held.service_id}  # nothing on 5555 either
    assert store.services_of(b.partner_id, limit=10, cursor=None) == ([], None)
    assert store.services_of(a.partner_id, limit=10, cursor=None)[0] == [held]


def test_services_are_limited_on_the_ring(store: AccountsStore) -> None:
    a, _ = registered(store, "a")
    rules = services.Rules(limits=PartnerAccountLimits(services_per_partner_max=1), allow_loopback=False)
    first = services.create_service(a.partner_id, draft("ONE"), now=T0, store=store, rules=rules)
    with pytest.raises(services.ServiceLimitReached):
        services.create_service(a.partner_id, draft("TWO"), now=T0, store=store, rules=rules)
    assert claims_of(store, "two") == {}
    services.delete_service(a.partner_id, first.service_id, store=store)
    services.create_service(a.partner_id, draft("TWO"), now=T0, store=store, rules=rules)


def test_an_update_writes_only_what_changed(store: AccountsStore) -> None:
    a, _ = registered(store, "a")
    created = services.create_service(a.partner_id, draft("ABC"), now=T0, store=store, rules=RULES)
    # An admin approves it meanwhile (status only; updated_at untouched).
    _put(store, created.model_copy(update={"status": ServiceStatus.ACTIVE}))
    later = T0 + timedelta(minutes=1)
    store.update_service(
        created, created.model_copy(update={"name": "Renamed", "updated_at": later}), release=[], claim=[]
    )
    stored = store.get(PartnerService, created.service_id)
    assert stored is not None and stored.name == "Renamed" and stored.status is ServiceStatus.ACTIVE
    # A second writer over the same read loses.
    with pytest.raises(accounts.WriteConflict):
        store.update_service(
            created, created.model_copy(update={"name": "Stale", "updated_at": later}), release=[], claim=[]
        )
    # A status change over a status that moved loses too.
    moved = stored.model_copy(update={"status": ServiceStatus.PENDING_MODERATION})
    _put(store, stored.model_copy(update={"status": ServiceStatus.SUSPENDED}))
    with pytest.raises(accounts.WriteConflict):
        store.update_service(
            stored,
            moved.model_copy(update={"updated_at": later + timedelta(seconds=1)}),
            release=[],
            claim=[],
        )
    cleared = store.get(PartnerService, created.service_id)
    assert cleared is not None and cleared.status is ServiceStatus.SUSPENDED and cleared.name == "Renamed"
    # A field set to None is removed.
    after = cleared.model_copy(update={"status_url": None, "updated_at": later + timedelta(seconds=2)})
    store.update_service(cleared, after, release=[], claim=[])
    assert store.get(PartnerService, created.service_id) == after


def test_moving_a_prefix_is_all_or_nothing(store: AccountsStore) -> None:
    a, _ = registered(store, "a")
    b, _ = registered(store, "b")
    mine = services.create_service(a.partner_id, draft("OLD", NUMBERS[:2]), now=T0, store=store, rules=RULES)
    theirs = services.create_service(
        b.partner_id, draft("NEW", NUMBERS[2:]), now=T0, store=store, rules=RULES
    )
    with pytest.raises(services.PrefixUnavailable):
        services.update_service(
            a.partner_id, mine.service_id, {"prefix": "NEW", "short_numbers": list(NUMBERS)}, now=T0, store=store,
            rules=RULES,
        )  # fmt: skip
    assert claims_of(store, "old") == {NUMBERS[0]: mine.service_id, NUMBERS[1]: mine.service_id}
    assert claims_of(store, "new") == {NUMBERS[2]: theirs.service_id}
    assert store.get(PartnerService, mine.service_id) == mine
    moved = services.update_service(
        a.partner_id, mine.service_id, {"prefix": "MID", "short_numbers": list(NUMBERS[1:])}, now=T0, store=store,
        rules=RULES,
    )  # fmt: skip
    assert claims_of(store, "old") == {} and claims_of(store, "mid") == dict.fromkeys(
        NUMBERS[1:], mine.service_id
    )
    assert store.get(PartnerService, mine.service_id) == moved


def test_delete_releases_claims_only_over_the_read_version(store: AccountsStore) -> None:
    a, _ = registered(store, "a")
    created = services.create_service(a.partner_id, draft("GONE", NUMBERS), now=T0, store=store, rules=RULES)
    renamed = created.model_copy(update={"name": "x", "updated_at": T0 + timedelta(seconds=1)})
    store.update_service(created, renamed, release=[], claim=[])
    with pytest.raises(accounts.WriteConflict):
        store.delete_service(created, release=services.held_claims(store, created))
    assert len(claims_of(store, "gone")) == 3
    services.delete_service(a.partner_id, created.service_id, store=store)
    assert claims_of(store, "gone") == {} and store.get(PartnerService, created.service_id) is None


# --- races ---------------------------------------------------------------------------------------


def race(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run the calls at once (a barrier releases them together); each one's result or exception."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[Any] = [None] * len(calls)

    def run(n: int) -> None:
        barrier.wait()
        try:
            outcomes[n] = calls[n]()
        except Exception as error:  # the outcome under test
            outcomes[n] = error

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


@pytest.mark.parametrize("rounds", [5])
def test_many_partners_race_for_one_prefix_and_exactly_one_wins(store: AccountsStore, rounds: int) -> None:
    partners = [registered(store, f"p{n}")[0] for n in range(6)]
    for round_no in range(rounds):
        prefix = f"RACE{round_no}"
        spellings = [prefix, prefix.lower(), prefix.replace("A", "\u0410"), prefix.replace("C", "\u0421")]
        # Overlapping sets: every one wants 4444, some also 5555 or 6666.
        sets = [("op1#4444",), ("op1#5555", "op1#4444"), ("op1#4444", "op1#6666")]
        calls = [
            lambda p=p, word=spellings[n % 4], numbers=sets[n % 3]: services.create_service(
                p.partner_id, draft(word, numbers), now=T0, store=store, rules=RULES
            )
            for n, p in enumerate(partners)
        ]
        outcomes = race(calls)
        winners = [o for o in outcomes if isinstance(o, PartnerService)]
        losers = [o for o in outcomes if isinstance(o, services.PrefixUnavailable)]
        assert len(winners) == 1 and len(losers) == len(partners) - 1, outcomes
        assert all(loser.reason == "taken" for loser in losers)
        winner = winners[0]
        # Exactly the winner's claims exist, all of them; the losers left nothing behind.
        assert claims_of(store, prefix.lower()) == dict.fromkeys(winner.short_numbers, winner.service_id)
        listed = [s for p in partners for s in store.services_of(p.partner_id, limit=50, cursor=None)[0]]
        assert [s.service_id for s in listed if s.prefix in spellings] == [winner.service_id]
    print(f"prefix races: {rounds} rounds x {len(partners)} partners, one winner each")


def test_a_token_confirmed_by_many_threads_is_used_once(store: AccountsStore) -> None:
    partner, claim, token, key, _ = registration("a", "a@example.com")
    store.register(partner, claim, token, key)
    outcomes = race([lambda: store.confirm(token, now=T0) for _ in range(6)])
    assert sum(o is None for o in outcomes) == 1
    assert all(o is None or isinstance(o, accounts.TokenInvalid | accounts.WriteConflict) for o in outcomes)

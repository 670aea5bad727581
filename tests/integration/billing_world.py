"""What every billed integration test sets up first: a partner's plan for some numbers, and the books.

``price_numbers`` prices numbers for a partner; ``partner_world`` builds a whole module's world on
the deployed stack (an operator on an HTTP link, its short numbers, an active partner with an API
key, priced numbers, credits, an admin key, the demo peers outside the stack) and gives the tests
the plumbing they share: sending, reading MOs, MTs and the ledger, waiting for them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from infra.demo_peers import DemoOperator, DemoPartner
from smsbilling.adapters.dynamodb_entities import DynamoEntityStore
from smsbilling.adapters.dynamodb_inbound import DynamoInboundStore
from smsbilling.adapters.dynamodb_ledger import DynamoDbLedgerStore
from smsbilling.adapters.dynamodb_mt import DynamoMtStore
from smsbilling.adapters.dynamodb_traffic_counters import DynamoTrafficCounters
from smsbilling.domain import accounts as acc
from smsbilling.domain.accounts import Book
from smsbilling.domain.entities import (
    ApiKey,
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
from smsbilling.domain.inbound import MoState, StoredMo
from smsbilling.domain.ledger import AccountNotFound, StoredTransfer, TransferKind, TransferState, transfer_id
from smsbilling.domain.secrets import hash_token
from smsbilling.domain.sms_credits import reservation_id
from smsbilling.domain.tariff import CommissionScale, NumberTariff, TariffPlan
from smsbilling.logic.admin_auth import new_admin_key
from smsbilling.logic.credits import CreditSpender
from smsbilling.logic.ledger_setup import open_operator, open_partner, open_platform
from smsbilling.logic.mo_processing import claim_prefix
from smsbilling.logic.plans import store_plan
from smsbilling.ports import MtRecord
from smsbilling.settings import LedgerLimits
from tests.conftest import Stack
from tests.integration.test_operator_forms import wait_for

GBP = "GBP"
TIMEOUT_S = 90.0
"""How long a world waits for the stack to decide an MO, end an MT or settle a reservation."""
UNREACHABLE_HANDLER = "http://127.0.0.1:9"
"""Where a handler nobody answers lives: for services whose delivery is not under test."""


def open_books(stack: Stack, *, partner_id: str, operator_id: str) -> None:
    """The GBP ledger accounts a partner's traffic on one operator posts to (platform, operator, partner)."""
    ledger = DynamoDbLedgerStore(stack.outputs["LedgerTableName"], stack.client("dynamodb"))
    open_platform(ledger, GBP)
    open_operator(ledger, operator_id, GBP)
    open_partner(ledger, partner_id, GBP)


def price_numbers(
    stack: Stack, *, plan_id: str, partner_id: str, operator_id: str, numbers: Iterable[str], price: int
) -> None:
    """An individual GBP plan for ``partner_id`` on ``numbers`` and the ledger accounts it posts to.

    Each number costs ``price`` (minor units) with 20 % VAT included; the operator keeps 40 % of the
    net, the platform 30 % of the rest (flat): at 150, VAT 25, operator 50, platform 22, partner 53.
    The ledger is the whole session's, so every test bills in GBP.
    """
    tariffs = {
        (operator_id, n): NumberTariff(
            operator_id, n, GBP, price=price, vat_bps=2_000, operator_share_bps=4_000
        )
        for n in numbers
    }
    entities = DynamoEntityStore(stack.client("dynamodb"), stack.outputs["EntitiesTableName"])
    store_plan(
        entities,
        TariffPlan(
            plan_id=plan_id,
            currency=GBP,
            effective_from_ms=0,
            numbers=tariffs,
            scale=CommissionScale.flat(3_000),
            partner_id=partner_id,
        ),
    )
    open_books(stack, partner_id=partner_id, operator_id=operator_id)


@dataclass
class PartnerWorld:
    """One module's operator (an HTTP link, short numbers, maybe a number range and a DemoOperator as
    its SMSC) and one active partner on it (an API key, services, maybe a DemoPartner as its handler),
    with an admin key. Built by :func:`partner_world`; modules subclass it for their own helpers."""

    stack: Stack
    suffix: str  # of this world's ids
    id_tag: str  # in this world's ids and the partner's keyword
    operator_id: str
    link_id: str
    link_token: str  # the operator's bearer token on its HTTP link
    partner_id: str
    key: str  # the partner's API key ("" when it has none)
    admin_key: str
    admin_key_id: str
    msisdn_range: str  # the operator's number range ("" when it has none)
    numbers: list[str]  # the operator's short numbers; the first is where MOs go by default
    http: httpx.Client  # stack.api, or a more patient client of the same API
    services: list[PartnerService] = field(default_factory=list)
    demo_operator: DemoOperator | None = None
    demo_partner: DemoPartner | None = None

    # -- the peers outside the stack --------------------------------------------------------------

    @property
    def operator(self) -> DemoOperator:
        assert self.demo_operator is not None, "this world's operator has no DemoOperator"
        return self.demo_operator

    @property
    def partner(self) -> DemoPartner:
        assert self.demo_partner is not None, "this world's partner has no DemoPartner"
        return self.demo_partner

    def operator_got(self) -> set[str]:
        """The ids of the MTs the operator's SMSC has received."""
        return {json.loads(r.body)["message_id"] for r in self.operator.received}

    # -- the partner's setup ----------------------------------------------------------------------

    @property
    def service(self) -> PartnerService:
        """The partner's first service: the one it sends through by default."""
        return self.services[0]

    @property
    def service_id(self) -> str:
        return self.service.service_id

    def subscriber(self, n: int) -> str:
        """A subscriber of the operator's range (digits, no ``+``)."""
        return f"{self.msisdn_range}{n:03d}"

    def add_number(self, number: str) -> ShortNumber:
        """Another (unpriced, MO-billed) short number of the operator."""
        short = ShortNumber(
            operator_id=self.operator_id, number=number, tariff_plan_id=f"plan-{self.id_tag}-{self.suffix}"
        )
        self.entities.put(short)
        self.numbers.append(number)
        return short

    def add_service(self, number: str | None = None, *, smpp: bool = False, **fields: Any) -> PartnerService:
        """An active service of the partner on ``number`` (the first by default), its keyword claimed.

        The handler: an SMPP bind (``smpp``: delivered through the partner's outbox, nothing to run),
        else the DemoPartner's ``/mo`` with signed ``/status`` callbacks, else an address nobody
        answers. ``fields`` override any of it (``prefix``, ``otp_enabled``, ``subscription``...).
        """
        n = len(self.services) + 1
        handler: dict[str, Any]
        if smpp:
            handler = {
                "handler_kind": HandlerKind.SMPP,
                "smpp_system_id": f"{self.id_tag[:2]}{self.suffix[:6]}",
            }
        elif self.demo_partner is not None:
            handler = {
                "handler_kind": HandlerKind.HTTP_POST_SYNC,
                "handler_url": f"{self.demo_partner.url}/mo",
                "status_url": f"{self.demo_partner.url}/status",
            }
        else:
            handler = {
                "handler_kind": HandlerKind.HTTP_POST_ASYNC,
                "handler_url": f"{UNREACHABLE_HANDLER}/mo",
            }
        service = PartnerService.model_validate(
            {
                "service_id": f"svc-{self.id_tag}{n}-{self.suffix}",
                "partner_id": self.partner_id,
                "name": f"{self.id_tag} service {n}",
                "prefix": f"{self.id_tag.upper()}{self.suffix[:6].upper()}",
                "short_numbers": (f"{self.operator_id}#{number or self.numbers[0]}",),
                "status": ServiceStatus.ACTIVE,
            }
            | handler
            | fields
        )
        self.entities.put(service)
        claim_prefix(self.entities, service, service.short_numbers[0])
        self.services.append(service)
        return service

    def with_partner(
        self, tag: str, *, price: int | None = 150, credits: int = 0, api_key: bool = True
    ) -> PartnerWorld:
        """The same operator, numbers and admin with another partner (``p-<tag>-<suffix>``), no services yet."""
        other = dataclasses.replace(
            self, id_tag=tag, partner_id=f"p-{tag}-{self.suffix}", key="", services=[]
        )
        _open_partner(other, price=price, credits=credits, api_key=api_key)
        return other

    # -- the stores -------------------------------------------------------------------------------

    @property
    def dynamodb(self) -> Any:
        return self.stack.client("dynamodb")

    @property
    def entities(self) -> DynamoEntityStore:
        return DynamoEntityStore(self.dynamodb, self.stack.outputs["EntitiesTableName"])

    @property
    def ledger(self) -> DynamoDbLedgerStore:
        return DynamoDbLedgerStore(self.stack.outputs["LedgerTableName"], self.dynamodb)

    @property
    def mos(self) -> DynamoInboundStore:
        return DynamoInboundStore(self.dynamodb, self.stack.outputs["MessagesTableName"])

    @property
    def mts(self) -> DynamoMtStore:
        return DynamoMtStore(self.dynamodb, self.stack.outputs["MessagesTableName"])

    @property
    def counters(self) -> DynamoTrafficCounters:
        return DynamoTrafficCounters(self.dynamodb, self.stack.outputs["CountersTableName"])

    # -- the APIs ---------------------------------------------------------------------------------

    def admin(self, method: str, path: str, body: Any = None, **kw: Any) -> httpx.Response:
        """An admin API call with this world's admin key (``body`` as JSON; ``kw`` as httpx takes them)."""
        headers = {"Authorization": f"Bearer {self.admin_key}"} | kw.pop("headers", {})
        return self.http.request(method, path.lstrip("/"), json=body, headers=headers, **kw)

    def partner_api(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """A partner API call with the partner's API key."""
        headers = {"Authorization": f"Bearer {self.key}"} | kw.pop("headers", {})
        return self.http.request(method, path.lstrip("/"), headers=headers, **kw)

    def post_sms(self, destination: str, text: str, **extra: Any) -> httpx.Response:
        """``POST /v1/sms`` through the partner's first service, ``destination`` as given."""
        body = {"service_id": self.service_id, "destination": destination, "text": text}
        return self.partner_api("POST", "/v1/sms", json=body | extra)

    def send_sms(self, msisdn: str, text: str, **extra: Any) -> str:
        """An SMS to ``+msisdn`` the API accepted (202): its message id."""
        answer = self.post_sms(f"+{msisdn}", text, **extra)
        assert answer.status_code == 202, answer.text
        return str(answer.json()["message_id"])

    def send_mo(
        self,
        text: str,
        msisdn: str,
        *,
        number: str | None = None,
        op_id: str | None = None,
        attempts: int = 1,
    ) -> str:
        """An MO from ``+msisdn`` as the operator sends it over its HTTP link: the platform's message id.

        With ``attempts`` over 1, a POST that timed out is sent again with the same operator message id
        (intake maps it to the same MO: at most one message either way).
        """
        body = {
            "operator_message_id": op_id or uuid.uuid4().hex,
            "source": f"+{msisdn}",
            "destination": number or self.numbers[0],
            "text": text,
        }
        headers = {"Authorization": f"Bearer {self.link_token}"}
        for attempt in range(1, attempts + 1):
            try:
                answer = self.http.post(f"operator/links/{self.link_id}/mo", json=body, headers=headers)
                break
            except httpx.TimeoutException:
                if attempt == attempts:
                    raise
        assert answer.status_code == 202, answer.text
        return str(answer.json()["message_id"])

    # -- waiting for the stack --------------------------------------------------------------------

    def decided(self, message_id: str) -> StoredMo:
        """The MO once in a final state."""
        return self._mo_once(message_id, lambda mo: mo.state.is_final)

    def decided_or_held(self, message_id: str) -> StoredMo:
        """The MO once decided (a final state) or held for review."""
        return self._mo_once(message_id, lambda mo: mo.state.is_final or mo.state is MoState.HELD)

    def _mo_once(self, message_id: str, done: Any) -> StoredMo:
        store = self.mos
        try:
            mo: StoredMo = wait_for(
                lambda: (m := store.get(message_id)) is not None and done(m) and m, TIMEOUT_S
            )
        except AssertionError as error:
            raise AssertionError(f"MO {message_id} not decided: {store.get(message_id)!r}") from error
        return mo

    def final_mt(self, message_id: str) -> MtRecord:
        """The MT once in a final state."""
        try:
            record: MtRecord = wait_for(
                lambda: (r := self.mts.get(message_id)) is not None and r.mt.state.is_final and r, TIMEOUT_S
            )
        except AssertionError as error:
            raise AssertionError(f"MT {message_id} not final: {self.mts.get(message_id)!r}") from error
        return record

    def held_mt(self, message_id: str) -> MtRecord:
        """The MT once held for review."""
        try:
            record: MtRecord = wait_for(
                lambda: (r := self.mts.get(message_id)) is not None and bool(r.held_reason) and r, TIMEOUT_S
            )
        except AssertionError as error:
            raise AssertionError(f"MT {message_id} not held: {self.mts.get(message_id)!r}") from error
        return record

    def settled(self, message_id: str) -> StoredTransfer:
        """The MT's credit reservation once its end settled it (posted or voided)."""
        stored: StoredTransfer = wait_for(
            lambda: (
                (t := self.ledger.get_transfer(reservation_id(message_id))) is not None
                and t.state is not TransferState.PENDING
                and t
            ),
            TIMEOUT_S,
        )
        return stored

    # -- the partner's books ----------------------------------------------------------------------

    def mo_charge(self, message_id: str) -> StoredTransfer | None:
        return self.ledger.get_transfer(transfer_id(message_id, str(TransferKind.MO_CHARGE)))

    def spendable(self) -> int:
        """Main credits headroom plus every credit block's: what the partner can still send with."""
        total = 0
        accounts = [acc.partner(self.partner_id, Book.CREDITS)]
        accounts += [
            acc.credit_block(self.partner_id, s) for s in range(LedgerLimits().credit_block_slots_max)
        ]
        for account in accounts:
            with contextlib.suppress(AccountNotFound):
                total += self.ledger.balance(account).headroom
        return total

    def credit_reservations(self) -> list[StoredTransfer]:
        """Every SMS credit reservation of the partner's credit blocks, in the journal."""
        blocks = {acc.credit_block(self.partner_id, s) for s in range(LedgerLimits().credit_block_slots_max)}
        return [
            t
            for t in self.ledger.journal()
            if t.transfer.kind is TransferKind.SMS_CREDITS
            and blocks & {leg.account for leg in t.transfer.legs}
        ]


def _open_partner(world: PartnerWorld, *, price: int | None, credits: int, api_key: bool) -> None:
    """The world's partner: active, its API key, its plan on every number (or, with ``price`` None,
    only its books) and ``credits`` topped up."""
    now = datetime.now(UTC)
    secrets = (world.demo_partner.secrets[0],) if world.demo_partner is not None else ()
    world.entities.put(
        Partner(
            partner_id=world.partner_id,
            name=f"{world.id_tag} partner",
            email=f"{world.id_tag}@example.com",
            status=PartnerStatus.ACTIVE,
            created_at=now,
            callback_secrets=secrets,
        )
    )
    if api_key:
        world.key = f"sk_{world.id_tag}_{uuid.uuid4().hex}"
        world.entities.put(
            ApiKey(
                key_hash=hash_token(world.key),
                key_id=f"k-{world.id_tag}-{world.suffix}",
                partner_id=world.partner_id,
                created_at=now,
            )
        )
    if price is None:
        open_books(world.stack, partner_id=world.partner_id, operator_id=world.operator_id)
    else:
        price_numbers(
            world.stack,
            plan_id=f"plan-{world.id_tag}-{world.suffix}",
            partner_id=world.partner_id,
            operator_id=world.operator_id,
            numbers=world.numbers,
            price=price,
        )
    if credits:
        CreditSpender(world.ledger, LedgerLimits()).top_up(
            world.partner_id, f"pay-{world.partner_id}", credits, int(time.time() * 1000)
        )


@contextlib.contextmanager
def partner_world[W: PartnerWorld](
    stack: Stack,
    kind: type[W] = PartnerWorld,  # type: ignore[assignment]
    *,
    tag: str,
    numbers: Iterable[str] = ("7073",),
    price: int | None = 150,
    credits: int = 0,
    range_head: str | None = "4479",
    demo_operator: bool = True,
    demo_partner: bool = False,
    mt_url: str | None = None,
    default_reply: str | None = None,
    api_key: bool = True,
    http_timeout_s: float | None = None,
) -> Iterator[W]:
    """A fresh world (ids ``<kind>-<tag>-<suffix>``, ``suffix`` random): a GBP operator in +44 on an
    HTTP link, MO-billed ``numbers``, an active partner, an admin key; closed peers afterwards.

    ``range_head``: the operator's number range is it plus 5 random digits (None: no range);
    ``demo_operator``: a DemoOperator is the link's SMSC (its receipts come back over the link), else
    MTs go to ``mt_url``; ``demo_partner``: a DemoPartner (signing secret on the partner) is there for
    the services' handlers; ``price``: the partner's plan on every number (None: only the books);
    ``credits``: topped up; ``api_key``: the partner has one; ``http_timeout_s``: a client this patient
    instead of ``stack.api``. Services are added with :meth:`PartnerWorld.add_service`.
    """
    suffix = uuid.uuid4().hex[:8]
    operator_id, link_id = f"op-{tag}-{suffix}", f"l-{tag}-{suffix}"
    link_token, mt_token = f"link-{tag}-{uuid.uuid4().hex}", f"mt-{tag}-{uuid.uuid4().hex}"
    msisdn_range = f"{range_head}{uuid.uuid4().int % 100_000:05d}" if range_head else ""
    with contextlib.ExitStack() as cleanup:
        operator = partner = None
        if demo_operator:
            operator = DemoOperator(
                mt_token,
                dlr_url=f"{stack.cloud.api_base}/operator/links/{link_id}/dlr",
                dlr_token=link_token,
                dlr_delay_s=0.2,
            )
            cleanup.callback(operator.close)
            mt_url = f"{operator.url}/mt"
        if demo_partner:
            partner = DemoPartner(secrets=[f"whsec_{tag}_{suffix}_0123456789abcdef"])
            cleanup.callback(partner.close)
        http = stack.api
        if http_timeout_s is not None:
            http = cleanup.enter_context(httpx.Client(base_url=stack.cloud.api_base, timeout=http_timeout_s))
        numbers = list(numbers)
        entities = DynamoEntityStore(stack.client("dynamodb"), stack.outputs["EntitiesTableName"])
        admin, admin_key = new_admin_key(f"it-{tag}-{suffix}", f"{tag} integration tests", datetime.now(UTC))
        entities.create(admin)
        for entity in (
            Operator(
                operator_id=operator_id,
                name=f"{tag} Mobile",
                country_code="44",
                currency=GBP,
                default_reply=default_reply,
                msisdn_prefixes=(msisdn_range,) if msisdn_range else (),
            ),
            OperatorLink(
                link_id=link_id,
                operator_id=operator_id,
                protocol=Protocol.HTTP,
                http_token_hash=hash_token(link_token),
                mt_url=mt_url,
                mt_token=mt_token if operator is not None else None,
            ),
            *(
                ShortNumber(operator_id=operator_id, number=n, tariff_plan_id=f"plan-{tag}-{suffix}")
                for n in numbers
            ),
        ):
            entities.put(entity)
        world = kind(
            stack=stack,
            suffix=suffix,
            id_tag=tag,
            operator_id=operator_id,
            link_id=link_id,
            link_token=link_token,
            partner_id=f"p-{tag}-{suffix}",
            key="",
            admin_key=admin_key,
            admin_key_id=admin.key_id,
            msisdn_range=msisdn_range,
            numbers=numbers,
            http=http,
            demo_operator=operator,
            demo_partner=partner,
        )
        _open_partner(world, price=price, credits=credits, api_key=api_key)
        yield world

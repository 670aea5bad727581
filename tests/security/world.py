"""Where the security suites run: the app in-process over in-memory stores, or the deployed stack.

Both worlds expose the same ports (``entities``, ``ledger``, ``mos``, ``otps``, ``delivery_log``)
and the same helpers (``partner()``, ``client()``), so an isolation case is written once.

**In-memory wiring.** Each web router has a test seam (``use(deps)``) and builds its deployed
dependencies from the settings otherwise. :data:`WIRINGS` says, per router module, how to serve it
from the in-memory world. A router without a wiring is refused in-process with a message naming
this file (it would otherwise reach for AWS); ``test_every_router_is_wired`` lists them all.
"""

from __future__ import annotations

import importlib
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

from smsbilling.adapters.memory_delivery_log import MemoryDeliveryLog
from smsbilling.adapters.memory_entities import MemoryEntityStore
from smsbilling.adapters.memory_handler_test_log import MemoryHandlerTestLog
from smsbilling.adapters.memory_idempotency import MemoryIdempotencyStore
from smsbilling.adapters.memory_inbound import MemoryEventPublisher as IntakeEvents
from smsbilling.adapters.memory_inbound import MemoryInboundStore
from smsbilling.adapters.memory_ledger import MemoryLedgerStore
from smsbilling.adapters.memory_message_search import MemoryMessageSearch
from smsbilling.adapters.memory_mt import MemoryMtStore
from smsbilling.adapters.memory_otp import MemoryOtpStore, MemorySendLimiter
from smsbilling.adapters.memory_partner_accounts import MemoryPartnerAccounts
from smsbilling.adapters.memory_rate_counter import MemoryRateCounter
from smsbilling.adapters.memory_statistics import MemoryStatisticsStore
from smsbilling.adapters.sqs_events import MemoryEventPublisher
from smsbilling.domain.api_scopes import ALL_SCOPES
from smsbilling.domain.entities import (
    BillingModel,
    Operator,
    OperatorLink,
    Partner,
    PartnerStatus,
    Protocol,
    ShortNumber,
)
from smsbilling.domain.inbound import MoState, StoredMo
from smsbilling.domain.secrets import hash_token
from smsbilling.logic.api_send import SendLimits
from smsbilling.logic.credits import CreditSpender
from smsbilling.logic.ledger_setup import open_operator, open_partner, open_platform
from smsbilling.logic.partner_accounts import issue_key
from smsbilling.settings import (
    AdminLimits,
    ApiLimits,
    HandlerTestLimits,
    LedgerLimits,
    MessageLimits,
    OtpLimits,
    PartnerAccountLimits,
    PartnerDeliveryLimits,
    ReportLimits,
    SmsSendLimits,
    TrafficLimits,
)
from tests.security import routes
from tests.security.api import Client, InProcess, OverHttp

CURRENCY = "GBP"


def utc_now() -> datetime:
    return datetime.now(UTC)


class RecordingNotifier:
    """The registration notifier: keeps the confirmation notices (the token a partner would get)."""

    def __init__(self) -> None:
        self.sent: list[Any] = []

    def send_confirmation(self, notice: Any) -> None:
        self.sent.append(notice)


@dataclass(frozen=True)
class PartnerHandle:
    partner_id: str
    key: str
    callback_secret: str


class World(ABC):
    """What both worlds share: the ports, the reference data, partners; each world says how its
    objects are forgotten and how its apps are called."""

    name: str
    entities: Any
    accounts: Any
    ledger: Any
    mos: Any
    otps: Any
    delivery_log: Any

    def __init__(self) -> None:
        self.suffix = uuid.uuid4().hex[:8]
        self.operator_id = f"sec-op-{self.suffix}"
        self.link_id = f"sec-link-{self.suffix}"
        # A number range only this world's operator serves (International Networks, +882), so MTs
        # sent to ``subscriber`` route here even on a stack other tests also populate.
        self.msisdn_prefix = f"88299{uuid.uuid4().int % 1000:03d}"
        self.subscriber = f"+{self.msisdn_prefix}1234"
        self.short_number = ShortNumber(
            operator_id=self.operator_id,
            number="7777",
            billing_model=BillingModel.MO,
            tariff_plan_id="sec-plan",
        )

    # --- reference data ------------------------------------------------------------------------
    def seed(self) -> None:
        self.entities.put(
            Operator(
                operator_id=self.operator_id,
                name="Security Mobile",
                country_code="882",
                currency=CURRENCY,
                msisdn_prefixes=(self.msisdn_prefix,),
            )
        )
        self.entities.put(
            OperatorLink(link_id=self.link_id, operator_id=self.operator_id, protocol=Protocol.HTTP)
        )
        self.entities.put(self.short_number)
        open_platform(self.ledger, CURRENCY)
        open_operator(self.ledger, self.operator_id, CURRENCY)

    def partner(self, label: str) -> PartnerHandle:
        """A new active partner with an API key of every scope and a callback secret."""
        partner_id = f"sec-{label}-{uuid.uuid4().hex[:10]}"
        callback_secret = f"whsec_{uuid.uuid4().hex}"
        now = utc_now()
        self.entities.put(
            Partner(
                partner_id=partner_id,
                name=f"Security {label}",
                email=f"{partner_id}@example.com",
                status=PartnerStatus.ACTIVE,
                created_at=now,
                callback_secrets=(callback_secret,),
            )
        )
        # Its first key as registration issues it: every scope, on the account's key ring.
        issued = issue_key(partner_id, [scope.value for scope in ALL_SCOPES], "security suite", now)
        self.accounts.add_key(
            issued.key, manage=True, keys_max=PartnerAccountLimits().api_keys_per_partner_max
        )
        open_partner(self.ledger, partner_id, CURRENCY)
        return PartnerHandle(partner_id, issued.secret, callback_secret)

    def fund(self, partner: PartnerHandle, credits: int) -> None:
        """Top up the partner's prepaid credits (as a payment would)."""
        at_ms = int(utc_now().timestamp() * 1000)
        CreditSpender(self.ledger, LedgerLimits()).top_up(
            partner.partner_id, uuid.uuid4().hex, credits, at_ms
        )

    def admin_key(self) -> str:
        """A new admin key (its own credential kind: logic/admin_auth.py)."""
        from smsbilling.domain.entities import AdminKey

        key = f"adm_sec_{uuid.uuid4().hex}"
        self.entities.put(
            AdminKey(
                key_hash=hash_token(key),
                key_id=f"sec-admin-{uuid.uuid4().hex[:10]}",
                name="security suite",
                created_at=utc_now(),
            )
        )
        return key

    def routed_mo(self, partner: PartnerHandle, service_id: str = "sec-svc") -> str:
        """A routed MO of ``partner`` (as the MO processor leaves it); its message id."""
        message_id = uuid.uuid4().hex
        self.mos.put_if_absent(
            StoredMo(
                message_id=message_id,
                link_id=self.link_id,
                operator_id=self.operator_id,
                operator_message_id=f"op-{message_id}",
                source="447700900123",
                destination=self.short_number.number,
                text="SEC hello",
                state=MoState.ROUTED,
                received_at=utc_now(),
                msisdn="447700900123",
                short_number=self.short_number.number,
                prefix="SEC",
                service_id=service_id,
                partner_id=partner.partner_id,
                billing_model=BillingModel.MO,
            )
        )
        return message_id

    @abstractmethod
    def forget_mo(self, message_id: str) -> None: ...

    @abstractmethod
    def forget_otp(self, otp_id: str) -> None: ...

    @abstractmethod
    def client(self, key: str | None, app: str = "partner") -> Client: ...


# --- in memory ---------------------------------------------------------------------------------------


class MemoryWorld(World):
    name = "memory"

    def __init__(self, api_limits: ApiLimits | None = None) -> None:
        super().__init__()
        self.api_limits = api_limits or ApiLimits()
        self.entities = MemoryEntityStore()
        self.ledger = MemoryLedgerStore()
        self.mos = MemoryInboundStore()
        self.otps = MemoryOtpStore()
        self.otp_limiter = MemorySendLimiter()
        self.delivery_log = MemoryDeliveryLog()
        self.events = MemoryEventPublisher()
        self.accounts = MemoryPartnerAccounts(self.entities)
        self.notifier = RecordingNotifier()
        self.mts = MemoryMtStore()
        self.search = MemoryMessageSearch(self.mos, self.mts)
        self.statistics = MemoryStatisticsStore()
        self.test_log = MemoryHandlerTestLog()
        self.intake = IntakeEvents()
        self.idempotency = MemoryIdempotencyStore()
        self.rate_counter = MemoryRateCounter()
        self.clock = utc_now
        self.unwired: set[str] = set()
        self._installed: list[Callable[[], None]] = []
        self.seed()

    def forget_mo(self, message_id: str) -> None:
        self.mos.messages.pop(message_id)

    def forget_otp(self, otp_id: str) -> None:
        self.otps.delete(otp_id)

    # --- wiring ---------------------------------------------------------------------------------
    def install(self) -> None:
        for name in ("partner", "admin"):
            module = routes.app_module(name)
            if module is None:
                continue
            for value in vars(module).values():
                if type(value).__name__ == "ApiConventions":
                    self._install_conventions(value, name)
        for module_name in router_modules():
            wiring = WIRINGS.get(module_name)
            if wiring is None:
                self.unwired.add(module_name)
                continue
            module = importlib.import_module(module_name)
            wiring(self, module)
            self._installed.append(lambda module=module: module.use(None))

    def _install_conventions(self, conventions: Any, app: str) -> None:
        from smsbilling.web.conventions import ConventionDeps, partner_caller

        deps = ConventionDeps(
            idempotency=self.idempotency, counter=self.rate_counter, limits=self.api_limits, clock=self.clock
        )
        if app == "partner":
            caller = partner_caller(lambda: self.entities)
        elif app in ADMIN_CALLERS:
            caller = ADMIN_CALLERS[app](self)
        else:
            self.unwired.add(f"{routes.APP_MODULES[app]} (the caller of its ApiConventions)")
            return
        conventions.use(deps, caller=caller)
        self._installed.append(lambda: conventions.use(None))

    def uninstall(self) -> None:
        for undo in reversed(self._installed):
            undo()
        self._installed.clear()

    def guard(self, app: str) -> Callable[[str, str], None]:
        """Refuses a call whose route is served by an unwired router (it would reach for AWS)."""
        resolver = routes.resolver(app)

        def check(method: str, path: str) -> None:
            bare = path.split("?", 1)[0]
            for route in resolver._static_routes + resolver._dynamic_routes:
                if route.method.upper() == method and route.rule.match(bare):
                    missing = [seam for seam in seams_of(route.func.__module__) if seam in self.unwired]
                    if missing:
                        raise AssertionError(
                            f"{method} {bare} is served through {', '.join(missing)}, which has no "
                            "in-memory wiring: add one to WIRINGS in tests/security/world.py"
                        )
                    return

        return check

    def client(self, key: str | None, app: str = "partner") -> Client:
        resolver = routes.resolver(app)
        if resolver is None:
            raise AssertionError(f"no {app} app in this checkout")
        return Client(InProcess(resolver, self.guard(app)), key)


def seams_of(module_name: str) -> list[str]:
    """The test seams (modules with ``use(deps)``) a router module is served through: its own, and
    those of the ``smsbilling.web`` modules it imports its dependencies from."""
    module = importlib.import_module(module_name)
    found = {module_name} if callable(getattr(module, "use", None)) else set()
    for value in vars(module).values():
        source = getattr(value, "__module__", None) if not isinstance(value, ModuleType) else value.__name__
        if not source or source == module_name or not source.startswith("smsbilling.web"):
            continue
        if callable(getattr(importlib.import_module(source), "use", None)):
            found.add(source)
    return sorted(found)


def router_modules() -> list[str]:
    """Every test seam the apps' routes are served through."""
    found = set()
    for name in ("partner", "admin"):
        for operation in routes.operations(name):
            found.update(seams_of(operation.module))
    return sorted(found)


def _wire_otp(world: MemoryWorld, module: Any) -> None:
    module.use(
        module.OtpDeps(
            entities=world.entities,
            store=world.otps,
            limiter=world.otp_limiter,
            events=world.events,
            limits=OtpLimits(),
            clock=world.clock,
        )
    )


def _wire_replies(world: MemoryWorld, module: Any) -> None:
    module.use(
        module.ReplyDeps(
            entities=world.entities,
            mos=world.mos,
            log=world.delivery_log,
            events=world.events,
            limits=PartnerDeliveryLimits(),
            clock=world.clock,
        )
    )


def _wire_accounts(world: MemoryWorld, module: Any) -> None:
    module.use(
        module.AccountDeps(
            store=world.accounts,
            limiter=world.otp_limiter,
            notifier=world.notifier,
            limits=PartnerAccountLimits(),
            page_size_max=ApiLimits().page_size_max,
            allow_loopback=False,
            clock=world.clock,
        )
    )


def _wire_sms(world: MemoryWorld, module: Any) -> None:
    module.use(
        module.SmsDeps(
            entities=world.entities,
            ledger=world.ledger,
            events=world.events,
            limits=SendLimits(messages=MessageLimits(), sms=SmsSendLimits(), ledger=LedgerLimits()),
            clock=world.clock,
        )
    )


def _wire_test_tool(world: MemoryWorld, module: Any) -> None:
    module.use(
        module.HandlerTestDeps(
            entities=world.entities,
            mos=world.mos,
            log=world.test_log,
            deliveries=world.delivery_log,
            mts=world.mts,
            events=world.intake,
            limits=HandlerTestLimits(),
            cursor_key=CURSOR_KEY,
            clock=world.clock,
        )
    )


def _wire_messages(world: MemoryWorld, module: Any) -> None:
    module.use(
        module.MessagesDeps(
            entities=world.entities,
            search=world.search,
            mos=world.mos,
            mts=world.mts,
            limits=ReportLimits(),
            page_size_max=ApiLimits().page_size_max,
            cursor_key=CURSOR_KEY,
        )
    )


def _wire_balance(world: MemoryWorld, module: Any) -> None:
    module.use(
        module.BalanceDeps(
            entities=world.entities,
            ledger=world.ledger,
            limits=ReportLimits(),
            page_size_max=ApiLimits().page_size_max,
            block_slots_max=LedgerLimits().credit_block_slots_max,
            cursor_key=CURSOR_KEY,
        )
    )


def _wire_statistics(world: MemoryWorld, module: Any) -> None:
    module.use(
        module.StatisticsDeps(
            entities=world.entities, reader=world.statistics, limits=ReportLimits(), clock=world.clock
        )
    )


def _wire_blacklist(world: MemoryWorld, module: Any) -> None:
    module.use(
        module.BlacklistDeps(
            entities=world.entities, traffic=TrafficLimits(), api=ApiLimits(), clock=world.clock
        )
    )


def _wire_admin(world: MemoryWorld, module: Any) -> None:
    module.use(
        module.AdminDeps(
            entities=world.entities,
            ledger=world.ledger,
            limits=AdminLimits(),
            api=ApiLimits(),
            clock=world.clock,
        )
    )


def _admin_caller(world: MemoryWorld) -> Any:
    from smsbilling.web.admin_auth import admin_caller

    return admin_caller(lambda: world.entities)


# How to serve each router from the in-memory world (module -> wiring). A router the apps include
# that is missing here makes its in-process cases fail with a message pointing here.
WIRINGS: dict[str, Callable[[MemoryWorld, Any], None]] = {
    "smsbilling.web.otp": _wire_otp,
    "smsbilling.web.replies": _wire_replies,
    "smsbilling.web.account_deps": _wire_accounts,
    "smsbilling.web.sms": _wire_sms,
    "smsbilling.web.test_tool": _wire_test_tool,
    "smsbilling.web.messages": _wire_messages,
    "smsbilling.web.balance": _wire_balance,
    "smsbilling.web.statistics": _wire_statistics,
    "smsbilling.web.admin.deps": _wire_admin,
    "smsbilling.web.blacklist": _wire_blacklist,
}

# The admin app's caller resolver over the in-memory world (its rate limits and Idempotency-Key).
ADMIN_CALLERS: dict[str, Callable[[MemoryWorld], Any]] = {"admin": _admin_caller}
CURSOR_KEY = b"security-suite-cursor-key-0123456789"


# --- the deployed stack -----------------------------------------------------------------------------


class StackWorld(World):
    """The local cloud with the template deployed (tests/conftest.py ``stack``), over real HTTP."""

    name = "localcloud"

    def __init__(self, stack: Any) -> None:
        from smsbilling.adapters.dynamodb_delivery_log import DynamoDeliveryLog
        from smsbilling.adapters.dynamodb_entities import DynamoEntityStore
        from smsbilling.adapters.dynamodb_inbound import DynamoInboundStore
        from smsbilling.adapters.dynamodb_ledger import DynamoDbLedgerStore
        from smsbilling.adapters.dynamodb_otp import DynamoOtpStore
        from smsbilling.adapters.dynamodb_partner_accounts import DynamoPartnerAccounts

        super().__init__()
        self.stack = stack
        client = stack.client("dynamodb")
        outputs = stack.outputs
        self.dynamodb = client
        self.messages_table = outputs["MessagesTableName"]
        self.entities = DynamoEntityStore(client, outputs["EntitiesTableName"])
        self.accounts = DynamoPartnerAccounts(client, outputs["EntitiesTableName"])
        self.ledger = DynamoDbLedgerStore(outputs["LedgerTableName"], client)
        self.mos = DynamoInboundStore(client, self.messages_table)
        self.otps = DynamoOtpStore(client, self.messages_table, keep_s=3600)
        self.delivery_log = DynamoDeliveryLog(client, self.messages_table)
        self.seed()

    def forget_mo(self, message_id: str) -> None:
        self._delete_pk(f"MSG#{message_id}")

    def forget_otp(self, otp_id: str) -> None:
        self.otps.delete(otp_id)

    def _delete_pk(self, pk: str) -> None:
        items = self.dynamodb.query(
            TableName=self.messages_table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": pk}},
        )["Items"]
        assert items, f"nothing stored under {pk}"
        for item in items:
            self.dynamodb.delete_item(TableName=self.messages_table, Key={"pk": item["pk"], "sk": item["sk"]})

    def client(self, key: str | None, app: str = "partner") -> Client:
        return Client(OverHttp(self.stack.api), key)

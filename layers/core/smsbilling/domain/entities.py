"""The platform's configuration entities, in their stored form.

Input and output models of the APIs are separate (a client never sets a server-owned field, a
response never leaks a stored one); these are what the entities table holds. Each entity knows
its own key: ``(pk, sk)`` strings of the form ``TYPE#id`` / ``META``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer

from smsbilling.domain.dlr import IdFormat

Currency = str  # ISO 4217 code; amounts are integer minor units beside it


class Entity(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    type_name: ClassVar[str]
    id_fields: ClassVar[tuple[str, ...]]

    @property
    def entity_id(self) -> str:
        return "#".join(str(getattr(self, name)) for name in self.id_fields)

    def key(self) -> tuple[str, str]:
        return entity_key(self.type_name, self.entity_id)

    def listing(self) -> tuple[str, str] | None:
        """``(gsi1pk, gsi1sk)`` when this kind of entity is listed (the stores' ``page``), else None."""
        return None


def entity_key(type_name: str, entity_id: str) -> tuple[str, str]:
    return f"{type_name}#{entity_id}", "META"


class Protocol(StrEnum):
    HTTP = "http"
    SMPP = "smpp"
    UCP = "ucp"
    CIMD2 = "cimd2"


class BillingModel(StrEnum):
    MO = "mo"  # the MO is the charge
    MT = "mt"  # the charge is final when the billed MT reply is delivered


class Operator(Entity):
    type_name: ClassVar[str] = "OPERATOR"
    id_fields: ClassVar[tuple[str, ...]] = ("operator_id",)
    operator_id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    country_code: str = Field(pattern=r"^[1-9][0-9]{0,2}$", description="E.164 country calling code")
    currency: Currency = Field(pattern=r"^[A-Z]{3}$")
    default_reply: str | None = Field(default=None, max_length=480, description="answer to unknown prefixes")
    msisdn_prefixes: tuple[str, ...] = Field(
        default=(), description="E.164 digit prefixes of its subscribers (routes MTs not answering an MO)"
    )


class OperatorLink(Entity):
    """A connection to an operator or upstream aggregator (either side may open it)."""

    type_name: ClassVar[str] = "OPLINK"
    id_fields: ClassVar[tuple[str, ...]] = ("link_id",)
    link_id: str = Field(min_length=1, max_length=64)
    operator_id: str
    protocol: Protocol
    enabled: bool = True
    http_token_hash: str | None = None  # inbound HTTP (operator -> platform)
    granted_tps: int = Field(default=50, gt=0)
    window_outstanding_max: int = Field(default=10, gt=0)
    # Outbound HTTP (platform -> operator): MTs are POSTed to mt_url with ``Bearer mt_token``.
    mt_url: str | None = Field(default=None, max_length=2048)
    mt_token: str | None = Field(default=None, max_length=256, repr=False)
    # How this link writes operator message ids in submit responses and receipts (domain/dlr.py).
    dlr_id_format: IdFormat = IdFormat.AS_IS
    # Outbound bridge links (the bridge binds as a client) for every bridge protocol, SMPP, UCP and
    # CIMD2 (``protocol`` chooses; the names are SMPP's for history): host, port and credentials
    # at the SMSC. system_id / password are the SMPP bind's, UCP OT 60's OAdC / PWD, CIMD2 login's
    # 011 / 012 (the SMPP sizes bound them for all three); system_type is used by SMPP only.
    smpp_host: str | None = Field(default=None, max_length=253, description="SMSC host (SMPP, UCP, CIMD2)")
    smpp_port: int | None = Field(default=None, ge=1, le=65535, description="SMSC port (SMPP, UCP, CIMD2)")
    smpp_system_id: str | None = Field(
        default=None, max_length=15, description="SMPP system_id, UCP OT 60 OAdC, CIMD2 user identity (011)"
    )
    smpp_password: str | None = Field(
        default=None, max_length=8, repr=False, description="SMPP password, UCP OT 60 PWD, CIMD2 012"
    )
    smpp_system_type: str = Field(default="", max_length=12, description="SMPP system_type (not UCP, CIMD2)")


class ShortNumber(Entity):
    type_name: ClassVar[str] = "SHORTNUM"
    id_fields: ClassVar[tuple[str, ...]] = ("operator_id", "number")
    operator_id: str
    number: str = Field(pattern=r"^[0-9]{3,15}$")
    billing_model: BillingModel = BillingModel.MO
    tariff_plan_id: str


class PartnerStatus(StrEnum):
    PENDING_CONFIRMATION = "pending_confirmation"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REJECTED = "rejected"  # by an admin, at moderation (docs/admin-api.md)


class Partner(Entity):
    """A partner; ``callback_secrets`` sign its callbacks (newest first; two during a rotation)."""

    type_name: ClassVar[str] = "PARTNER"
    id_fields: ClassVar[tuple[str, ...]] = ("partner_id",)
    partner_id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=254)
    status: PartnerStatus = PartnerStatus.PENDING_CONFIRMATION
    referrer_id: str | None = None
    created_at: datetime
    callback_secrets: tuple[str, ...] = Field(default=(), max_length=2, repr=False)


class HandlerKind(StrEnum):
    HTTP_GET = "http_get"
    HTTP_POST_SYNC = "http_post_sync"
    HTTP_POST_ASYNC = "http_post_async"
    SMPP = "smpp"


class ServiceStatus(StrEnum):
    PENDING_MODERATION = "pending_moderation"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REJECTED = "rejected"


class PartnerService(Entity):
    type_name: ClassVar[str] = "SERVICE"
    id_fields: ClassVar[tuple[str, ...]] = ("service_id",)
    service_id: str = Field(min_length=1, max_length=64)
    partner_id: str
    name: str = Field(min_length=1, max_length=200)
    prefix: str = Field(min_length=1, max_length=32, description="the keyword, as the partner typed it")
    short_numbers: tuple[str, ...] = Field(min_length=1, description="ShortNumber entity ids")
    handler_kind: HandlerKind
    handler_url: str | None = Field(default=None, max_length=2048)
    smpp_system_id: str | None = Field(default=None, max_length=15, description="handler_kind smpp: the bind")
    status_url: str | None = Field(default=None, max_length=2048, description="signed MT status callbacks")
    status: ServiceStatus = ServiceStatus.PENDING_MODERATION
    subscription: SubscriptionTerms | None = None
    otp_enabled: bool = False
    created_at: datetime | None = None  # set by the partner API (services made elsewhere: None)
    updated_at: datetime | None = None


class SubscriptionTerms(BaseModel):
    """An MT-subscription service: the prefix subscribes; billed MTs go out every ``interval_s``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    interval_s: int = Field(default=86_400, ge=60)
    charges_per_period_max: int = Field(default=1, ge=1, description="billed MTs per interval at most")
    stop_words: tuple[str, ...] = ("STOP", "UNSUBSCRIBE", "СТОП")
    welcome_text: str = Field(default="You are subscribed. Send STOP to unsubscribe.", max_length=480)
    goodbye_text: str = Field(default="You are unsubscribed. You will not be charged again.", max_length=480)
    content_text: str = Field(default="Your subscription content.", max_length=480)


class PrefixClaim(Entity):
    """A leased keyword on one short number: the unique index routing an MO to its service.

    ``folded`` is the prefix as :func:`smsbilling.domain.routing.fold` makes it (case and look-alikes
    folded), so two services cannot claim prefixes a subscriber could not tell apart.
    """

    type_name: ClassVar[str] = "PREFIX"
    id_fields: ClassVar[tuple[str, ...]] = ("short_number_id", "folded")
    short_number_id: str
    folded: str = Field(min_length=1, max_length=32)
    service_id: str


class BlacklistEntry(Entity):
    """A subscriber who gets no routed MO and no MT: platform-wide, or for one partner."""

    type_name: ClassVar[str] = "BLACKLIST"
    id_fields: ClassVar[tuple[str, ...]] = ("scope", "msisdn")
    scope: str = Field(default="*", description="'*' for every partner, else a partner id")
    msisdn: str = Field(pattern=r"^[1-9][0-9]{5,14}$")
    reason: str = Field(default="", max_length=200)
    created_at: datetime


class RoutingConfig(Entity):
    """Admin-set routing options (one item, id ``default``): extra look-alike folds."""

    type_name: ClassVar[str] = "ROUTING"
    id_fields: ClassVar[tuple[str, ...]] = ("config_id",)
    config_id: str = "default"
    lookalikes: dict[str, str] = Field(default_factory=dict, description="character -> what it folds to")


class SubscriptionState(StrEnum):
    ACTIVE = "active"
    CANCELLED = "cancelled"


class Subscription(Entity):
    type_name: ClassVar[str] = "SUBSCR"
    id_fields: ClassVar[tuple[str, ...]] = ("service_id", "msisdn")
    service_id: str
    msisdn: str
    partner_id: str
    operator_id: str
    short_number: str
    link_id: str | None = None
    state: SubscriptionState = SubscriptionState.ACTIVE
    started_at: datetime
    cancelled_at: datetime | None = None
    next_charge_at: datetime
    charges_count: int = Field(default=0, ge=0)


class ApiKey(Entity):
    """Looked up by the hash of the presented key, so the key itself is never stored."""

    type_name: ClassVar[str] = "APIKEY"
    id_fields: ClassVar[tuple[str, ...]] = ("key_hash",)
    key_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    key_id: str
    partner_id: str
    scopes: tuple[str, ...] = ()
    created_at: datetime
    revoked_at: datetime | None = None
    label: str = Field(default="", max_length=100, description="the partner's name for the key")
    hint: str = Field(default="", max_length=8, description="the key's last characters, to tell keys apart")


class ConfirmationToken(Entity):
    """A registration's e-mail confirmation token, stored by its hash; deleted when used (single use)."""

    type_name: ClassVar[str] = "CONFIRM"
    id_fields: ClassVar[tuple[str, ...]] = ("token_hash",)
    token_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    partner_id: str = Field(min_length=1, max_length=64)
    email: str = Field(min_length=3, max_length=254)
    created_at: datetime
    expires_at: datetime


class PartnerEmail(Entity):
    """One partner per e-mail address (normalised); ``token_hash``: the confirmation token in force."""

    type_name: ClassVar[str] = "EMAIL"
    id_fields: ClassVar[tuple[str, ...]] = ("address",)
    address: str = Field(min_length=3, max_length=254)
    partner_id: str = Field(min_length=1, max_length=64)
    token_hash: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    confirmed_at: datetime | None = None


SMPP_ACCOUNTS_LISTING = "SMPPACCTS"  # gsi1pk of every SmppAccount, by system_id
SUBMIT_RATE_PER_S_MIN = 0.1
SUBMIT_RATE_PER_S_MAX = 10_000.0
# Submits per second an admin may give one account (the bridge's SmppLimits are the defaults). Stored
# as its decimal text: the entities table takes no floats, and the text reads back to the same float.
SubmitRate = Annotated[
    float,
    Field(ge=SUBMIT_RATE_PER_S_MIN, le=SUBMIT_RATE_PER_S_MAX, allow_inf_nan=False),
    PlainSerializer(repr, return_type=str, when_used="json"),
]


class SmppAccount(Entity):
    """Credentials for binding to the bridge (SMPP, and UCP/CIMD2 logins alike), and its limits.

    The bridge reads the account at every bind: a changed limit applies from the next bind (the
    account's shared rate then changes for its binds already up too).
    """

    type_name: ClassVar[str] = "SMPPACCT"
    id_fields: ClassVar[tuple[str, ...]] = ("system_id",)
    system_id: str = Field(min_length=1, max_length=15)
    password_hash: str
    owner_kind: Literal["partner", "operator"]
    owner_id: str
    allowed_cidrs: tuple[str, ...] = Field(default=(), description="empty: no address may bind")
    binds_max: int = Field(default=4, gt=0)
    enabled: bool = True
    submit_rate_per_s: SubmitRate | None = Field(default=None, description="each bind; None: the default")
    account_submit_rate_per_s: SubmitRate | None = Field(
        default=None, description="all binds together; None: the default"
    )

    def listing(self) -> tuple[str, str]:
        return SMPP_ACCOUNTS_LISTING, self.system_id


class AdminKey(Entity):
    """An admin API credential (not a partner key: those are :class:`ApiKey`), looked up by its hash."""

    type_name: ClassVar[str] = "ADMINKEY"
    id_fields: ClassVar[tuple[str, ...]] = ("key_hash",)
    key_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    key_id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    created_at: datetime
    revoked_at: datetime | None = None


class ReservedPrefix(Entity):
    """A keyword partners may not lease: ``reserved`` (the platform keeps it) or ``forbidden``."""

    type_name: ClassVar[str] = "RESERVED"
    id_fields: ClassVar[tuple[str, ...]] = ("folded",)
    folded: str = Field(min_length=1, max_length=32)
    word: str = Field(min_length=1, max_length=32)
    kind: Literal["reserved", "forbidden"]
    reason: str = Field(default="", max_length=200)
    created_at: datetime


def _integral_numbers(value: Any) -> Any:
    """JSON values as stored: DynamoDB reads numbers back as ``Decimal``; whole ones are ints again."""
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    if isinstance(value, dict):
        return {key: _integral_numbers(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_integral_numbers(item) for item in value]
    return value


class AdminAuditEntry(Entity):
    """One admin change: who (the admin key id), when, what (action, target, the fields set).

    Secrets in ``changes`` are redacted before the entry is built; listed by day (gsi1).
    """

    type_name: ClassVar[str] = "AUDIT"
    id_fields: ClassVar[tuple[str, ...]] = ("audit_id",)
    audit_id: str = Field(min_length=1, max_length=64)
    at: datetime
    admin_key_id: str = Field(min_length=1, max_length=64)
    action: str = Field(min_length=1, max_length=64, description="e.g. service.approve")
    target: str = Field(min_length=1, max_length=300, description="the entity key, e.g. SERVICE#svc1")
    changes: Annotated[dict[str, Any], BeforeValidator(_integral_numbers)] = Field(
        default_factory=dict, description="JSON values, secrets redacted"
    )

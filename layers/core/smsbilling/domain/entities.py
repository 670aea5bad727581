"""The platform's configuration entities, in their stored form.

Input and output models of the APIs are separate (a client never sets a server-owned field, a
response never leaks a stored one); these are what the entities table holds. Each entity knows
its own key: ``(pk, sk)`` strings of the form ``TYPE#id`` / ``META``.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

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


class Partner(Entity):
    type_name: ClassVar[str] = "PARTNER"
    id_fields: ClassVar[tuple[str, ...]] = ("partner_id",)
    partner_id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=254)
    status: PartnerStatus = PartnerStatus.PENDING_CONFIRMATION
    referrer_id: str | None = None
    created_at: datetime


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
    status: ServiceStatus = ServiceStatus.PENDING_MODERATION


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


class SmppAccount(Entity):
    """Credentials for binding to the bridge (SMPP, and UCP/CIMD2 logins alike)."""

    type_name: ClassVar[str] = "SMPPACCT"
    id_fields: ClassVar[tuple[str, ...]] = ("system_id",)
    system_id: str = Field(min_length=1, max_length=15)
    password_hash: str
    owner_kind: Literal["partner", "operator"]
    owner_id: str
    allowed_cidrs: tuple[str, ...] = Field(default=(), description="empty: no address may bind")
    binds_max: int = Field(default=4, gt=0)
    enabled: bool = True


ENTITY_TYPES: dict[str, type[Entity]] = {
    cls.type_name: cls
    for cls in (Operator, OperatorLink, ShortNumber, Partner, PartnerService, ApiKey, SmppAccount)
}

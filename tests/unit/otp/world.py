"""A partner world for the OTP tests: entities, fakes and a clock (no AWS)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from smsbilling.adapters.memory_entities import MemoryEntityStore
from smsbilling.adapters.memory_otp import MemoryOtpStore, MemorySendLimiter
from smsbilling.adapters.sqs_events import MemoryEventPublisher
from smsbilling.domain.entities import (
    ApiKey,
    HandlerKind,
    Partner,
    PartnerService,
    PartnerStatus,
    ServiceStatus,
    ShortNumber,
)
from smsbilling.domain.ids import derived_id
from smsbilling.domain.secrets import hash_token
from smsbilling.settings import OtpLimits

T0 = datetime(2026, 11, 22, 12, 0, 30, tzinfo=UTC)
KEYS = {"p1": "sk_test_partner_one", "p2": "sk_test_partner_two"}


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class OtpWorld:
    def __init__(self, limits: OtpLimits | None = None) -> None:
        self.entities = MemoryEntityStore()
        self.store = MemoryOtpStore()
        self.limiter = MemorySendLimiter()
        self.events = MemoryEventPublisher()
        self.limits = limits or OtpLimits()
        self.clock = Clock()
        self.entities.put(ShortNumber(operator_id="op1", number="4444", tariff_plan_id="plan1"))
        self.entities.put(ShortNumber(operator_id="op2", number="5555", tariff_plan_id="plan1"))
        for partner_id, key in KEYS.items():
            self.entities.put(
                Partner(
                    partner_id=partner_id,
                    name=partner_id,
                    email=f"{partner_id}@example.com",
                    status=PartnerStatus.ACTIVE,
                    created_at=T0,
                )
            )
            self.entities.put(
                ApiKey(
                    key_hash=hash_token(key), key_id=f"k-{partner_id}", partner_id=partner_id, created_at=T0
                )
            )
        self.service("otp1", "p1")
        self.service("otp2", "p2", short_numbers=("op2#5555",))

    def service(
        self,
        service_id: str,
        partner_id: str,
        *,
        status: ServiceStatus = ServiceStatus.ACTIVE,
        otp_enabled: bool = True,
        short_numbers: tuple[str, ...] = ("op1#4444", "op2#5555"),
    ) -> PartnerService:
        service = PartnerService(
            service_id=service_id,
            partner_id=partner_id,
            name="Acme Bank",
            prefix=f"X{service_id}",
            short_numbers=short_numbers,
            handler_kind=HandlerKind.HTTP_POST_ASYNC,
            handler_url="https://partner.example/mo",
            status=status,
            otp_enabled=otp_enabled,
        )
        self.entities.put(service)
        return service

    def code_of(self, otp_id: str) -> str:
        """The code the subscriber received (read from the queued SMS, as a handset would)."""
        (sms,) = [m for m in self.events.mt if m.message_id == derived_id("otp", otp_id)]
        return sms.text.split("code is ")[1].split(".")[0]

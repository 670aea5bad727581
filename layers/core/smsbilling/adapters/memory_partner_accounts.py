"""In-memory partner accounts: the fake of ``DynamoPartnerAccounts`` (same contract tests).

It shares a :class:`MemoryEntityStore` with the rest of a test world (API keys written here
authenticate there), and makes each multi-item change atomic under one lock, checking every
condition before writing anything, as a DynamoDB transaction does.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from smsbilling.adapters.dynamodb_entities import InvalidCursor, decode_cursor, encode_cursor
from smsbilling.adapters.memory_entities import MemoryEntityStore
from smsbilling.domain.entities import (
    ApiKey,
    ConfirmationToken,
    Entity,
    Partner,
    PartnerEmail,
    PartnerService,
    PartnerStatus,
    PrefixClaim,
    entity_key,
)
from smsbilling.logic import partner_accounts as accounts
from smsbilling.logic.services import PrefixTaken, ServiceLimitReached


@dataclass
class _Ring:
    key_ids: set[str] = field(default_factory=set)
    manage_key_ids: set[str] = field(default_factory=set)
    service_ids: set[str] = field(default_factory=set)


class MemoryPartnerAccounts:
    def __init__(self, entities: MemoryEntityStore | None = None) -> None:
        self.entities = entities if entities is not None else MemoryEntityStore()
        self.rings: dict[str, _Ring] = {}
        self._lock = threading.Lock()

    def get[E: Entity](self, model: type[E], entity_id: str) -> E | None:
        return self.entities.get(model, entity_id)

    def _exists(self, entity: Entity) -> bool:
        return entity.key() in self.entities.items

    def _ring(self, partner_id: str) -> _Ring:
        return self.rings.setdefault(partner_id, _Ring())

    # --- registration ----------------------------------------------------------------------------------

    def register(self, partner: Partner, email: PartnerEmail, token: ConfirmationToken, key: ApiKey) -> None:
        with self._lock:
            if self._exists(email):
                raise accounts.EmailTaken
            if any(self._exists(e) for e in (partner, token, key)):
                raise accounts.WriteConflict
            for entity in (partner, email, token, key):
                self.entities.put(entity)
            ring = self._ring(partner.partner_id)
            ring.key_ids.add(key.key_id)
            ring.manage_key_ids.add(key.key_id)

    def renew_token(self, email: PartnerEmail, token: ConfirmationToken, replaced_hash: str | None) -> None:
        with self._lock:
            stored = self.entities.get(PartnerEmail, email.address)
            if (
                stored is None
                or stored.partner_id != email.partner_id
                or stored.confirmed_at is not None
                or stored.token_hash != replaced_hash
                or self._exists(token)
            ):
                raise accounts.WriteConflict
            self.entities.put(stored.model_copy(update={"token_hash": email.token_hash}))
            self.entities.put(token)
            if replaced_hash is not None:
                self.entities.items.pop(entity_key(ConfirmationToken.type_name, replaced_hash), None)

    def confirm(self, token: ConfirmationToken, *, now: datetime) -> None:
        with self._lock:
            email = self.entities.get(PartnerEmail, token.email)
            if not self._exists(token) or email is None or email.token_hash != token.token_hash:
                raise accounts.TokenInvalid
            if email.partner_id != token.partner_id:
                raise accounts.TokenInvalid
            partner = self.entities.get(Partner, token.partner_id)
            if partner is None or partner.status is not PartnerStatus.PENDING_CONFIRMATION:
                raise accounts.WriteConflict
            del self.entities.items[token.key()]
            self.entities.put(email.model_copy(update={"token_hash": None, "confirmed_at": now}))
            self.entities.put(partner.model_copy(update={"status": PartnerStatus.ACTIVE}))

    # --- keys ------------------------------------------------------------------------------------------

    def add_key(self, key: ApiKey, *, manage: bool, keys_max: int) -> None:
        with self._lock:
            ring = self._ring(key.partner_id)
            if len(ring.key_ids) >= keys_max:
                raise accounts.KeyLimitReached
            if self._exists(key):
                raise accounts.WriteConflict
            self.entities.put(key)
            ring.key_ids.add(key.key_id)
            if manage:
                ring.manage_key_ids.add(key.key_id)

    def revoke_key(self, key: ApiKey, *, manage: bool, now: datetime) -> None:
        with self._lock:
            stored = self.entities.get(ApiKey, key.key_hash)
            if stored is None or stored.revoked_at is not None or stored.partner_id != key.partner_id:
                raise accounts.NotFound
            ring = self._ring(key.partner_id)
            others = ring.manage_key_ids - {key.key_id}
            if manage and not others:
                raise accounts.LastManageKey
            self.entities.put(stored.model_copy(update={"revoked_at": now}))
            ring.key_ids.discard(key.key_id)
            ring.manage_key_ids.discard(key.key_id)

    def key_by_id(self, partner_id: str, key_id: str) -> ApiKey | None:
        return next(
            (
                e
                for e in self.entities.items.values()
                if isinstance(e, ApiKey) and e.partner_id == partner_id and e.key_id == key_id
            ),
            None,
        )

    def keys_of(self, partner_id: str, *, limit: int, cursor: str | None) -> tuple[list[ApiKey], str | None]:
        keys = sorted(
            (e for e in self.entities.items.values() if isinstance(e, ApiKey) and e.partner_id == partner_id),
            key=lambda k: (k.key_id, k.key()[0]),
        )
        if cursor is not None:
            try:
                pk, after = decode_cursor(cursor)
            except InvalidCursor:
                raise accounts.InvalidCursor from None
            if not pk.startswith(f"{ApiKey.type_name}#"):
                raise accounts.InvalidCursor
            keys = [k for k in keys if (k.key_id, k.key()[0]) > (after, pk)]
        page = keys[:limit]
        more = len(keys) > limit
        return page, encode_cursor(page[-1].key()[0], page[-1].key_id) if more else None

    # --- services -------------------------------------------------------------------------------------

    def create_service(
        self, service: PartnerService, claims: Sequence[PrefixClaim], *, services_max: int
    ) -> None:
        with self._lock:
            taken = [claim.entity_id for claim in claims if self._exists(claim)]
            if taken:
                raise PrefixTaken(taken)
            ring = self._ring(service.partner_id)
            if len(ring.service_ids) >= services_max:
                raise ServiceLimitReached
            if self._exists(service):
                raise accounts.WriteConflict
            self.entities.put(service)
            for claim in claims:
                self.entities.put(claim)
            ring.service_ids.add(service.service_id)

    def _as_read(self, before: PartnerService, *, status: bool) -> bool:
        stored = self.entities.get(PartnerService, before.service_id)
        return (
            stored is not None
            and stored.partner_id == before.partner_id
            and stored.updated_at == before.updated_at
            and (not status or stored.status is before.status)
        )

    def _releasable(self, claim: PrefixClaim) -> bool:
        stored = self.entities.get(PrefixClaim, claim.entity_id)
        return stored is None or stored.service_id == claim.service_id

    def update_service(
        self,
        before: PartnerService,
        after: PartnerService,
        *,
        release: Sequence[PrefixClaim],
        claim: Sequence[PrefixClaim],
    ) -> None:
        with self._lock:
            if not self._as_read(before, status=after.status is not before.status):
                raise accounts.WriteConflict
            if not all(self._releasable(c) for c in release):
                raise accounts.WriteConflict
            taken = [c.entity_id for c in claim if self._exists(c)]
            if taken:
                raise PrefixTaken(taken)
            stored = self.entities.get(PartnerService, before.service_id)
            if stored is None:  # pragma: no cover - _as_read found it under the same lock
                raise accounts.WriteConflict
            changed = {
                name: getattr(after, name)
                for name in type(after).model_fields
                if getattr(after, name) != getattr(before, name)
            }
            self.entities.put(stored.model_copy(update=changed))
            for c in release:
                self.entities.items.pop(c.key(), None)
            for c in claim:
                self.entities.put(c)

    def delete_service(self, service: PartnerService, *, release: Sequence[PrefixClaim]) -> None:
        with self._lock:
            if not self._as_read(service, status=False) or not all(self._releasable(c) for c in release):
                raise accounts.WriteConflict
            del self.entities.items[service.key()]
            for c in release:
                self.entities.items.pop(c.key(), None)
            self._ring(service.partner_id).service_ids.discard(service.service_id)

    def services_of(
        self, partner_id: str, *, limit: int, cursor: str | None
    ) -> tuple[list[PartnerService], str | None]:
        try:
            found, cursor = self.entities.services(partner_id, limit=limit, cursor=cursor)
        except InvalidCursor:
            raise accounts.InvalidCursor from None
        # The index partitions by "<partner_id>#": a partner id with a "#" of its own (made outside
        # the API) could share a prefix with another's; only the caller's services are returned.
        return [s for s in found if s.partner_id == partner_id], cursor

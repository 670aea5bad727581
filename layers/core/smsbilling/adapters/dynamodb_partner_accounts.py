"""Partner accounts in the entities table: registration, keys, services and their prefix claims.

Implements ``logic.partner_accounts.AccountStore`` and ``logic.services.ServiceStore``; the
in-memory fake is ``adapters.memory_partner_accounts``; both pass
``tests/contract/test_partner_accounts_contract.py``. Every change that touches more than one item
is one ``TransactWriteItems`` whose conditions carry the invariants:

===============================  ===============================================================
invariant                        condition
===============================  ===============================================================
one partner per e-mail           ``EMAIL#<address>`` put with ``attribute_not_exists(pk)``
a token is used once             ``CONFIRM#<hash>`` deleted with ``attribute_exists(pk)``
one service per folded prefix    each ``PREFIX#<short number>#<folded>`` put with
per short number                 ``attribute_not_exists(pk)``
active keys / services limits,   the partner's ring ``ACCOUNT#<partner_id>`` / ``RING``: string
the last ``keys:manage`` key     sets ``key_ids``, ``manage_key_ids``, ``service_ids``, sized
no lost update                   ``updated_at`` (and ``status`` when it changes) as read
===============================  ===============================================================

The ring is not an entity (its ``pk`` prefix ``ACCOUNT#`` is its own); listings go through
``gsi1`` (eventually consistent: a key or service written a moment ago may be missing from a page).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from smsbilling.adapters.dynamodb_entities import (
    DynamoEntityStore,
    InvalidCursor,
    decode_cursor,
    encode_cursor,
    from_item,
    model_attributes,
    to_item,
)
from smsbilling.domain.entities import (
    ApiKey,
    ConfirmationToken,
    Entity,
    Partner,
    PartnerEmail,
    PartnerService,
    PartnerStatus,
    PrefixClaim,
)
from smsbilling.logic import partner_accounts as accounts
from smsbilling.logic.services import PrefixTaken, ServiceLimitReached

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_INDEX = "gsi1"
_OWN_CLAIM = "attribute_not_exists(pk) OR service_id = :sid"


def ring_key(partner_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"ACCOUNT#{partner_id}"}, "sk": {"S": "RING"}}


def keys_pk(partner_id: str) -> str:
    """The gsi1 partition of a partner's API keys (as ``dynamodb_entities.index_keys`` writes it)."""
    return f"APIKEYS#{partner_id}"


def _key(entity: Entity) -> dict[str, Any]:
    pk, sk = entity.key()
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _ss(value: str) -> dict[str, Any]:
    return {"SS": [value]}


def _reasons(error: ClientError) -> list[str] | None:
    """Per-item cancellation codes of a cancelled transaction; None for any other error."""
    if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return None
    reasons = error.response.get("CancellationReasons") or []
    return [str(reason.get("Code", "None")) for reason in reasons]


def _failed(reasons: list[str], index: int) -> bool:
    return index < len(reasons) and reasons[index] == "ConditionalCheckFailed"


class DynamoPartnerAccounts:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table
        self._entities = DynamoEntityStore(client, table)

    def get[E: Entity](self, model: type[E], entity_id: str) -> E | None:
        return self._entities.get(model, entity_id)

    # --- transactions ------------------------------------------------------------------------------

    def _transact(self, items: list[dict[str, Any]]) -> list[str] | None:
        """Run the transaction; None when it committed, else the per-item cancellation codes."""
        try:
            self._client.transact_write_items(TransactItems=items)  # type: ignore[arg-type]
        except ClientError as error:
            reasons = _reasons(error)
            if reasons is None:
                raise
            if not any(code == "ConditionalCheckFailed" for code in reasons):
                raise accounts.WriteConflict from None  # TransactionConflict etc.: a race, retry
            return reasons
        return None

    def _put_new(self, entity: Entity) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self._table,
                "Item": to_item(entity),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

    def _ring(
        self, partner_id: str, expression: str, values: dict[str, Any], condition: str | None = None
    ) -> dict[str, Any]:
        update: dict[str, Any] = {
            "TableName": self._table,
            "Key": ring_key(partner_id),
            "UpdateExpression": expression,
            "ExpressionAttributeValues": values,
        }
        if condition:
            update["ConditionExpression"] = condition
        return {"Update": update}

    # --- registration ------------------------------------------------------------------------------

    def register(self, partner: Partner, email: PartnerEmail, token: ConfirmationToken, key: ApiKey) -> None:
        kid = _ss(key.key_id)
        reasons = self._transact(
            [
                self._put_new(partner),
                self._put_new(email),
                self._put_new(token),
                self._put_new(key),
                self._ring(partner.partner_id, "ADD key_ids :k, manage_key_ids :k", {":k": kid}),
            ]
        )
        if reasons is not None:
            if _failed(reasons, 1):
                raise accounts.EmailTaken
            raise accounts.WriteConflict

    def renew_token(self, email: PartnerEmail, token: ConfirmationToken, replaced_hash: str | None) -> None:
        if email.token_hash is None:
            raise ValueError("the renewed address must carry the new token's hash")
        values: dict[str, Any] = {":new": {"S": email.token_hash}, ":pid": {"S": email.partner_id}}
        condition = "attribute_exists(pk) AND partner_id = :pid AND attribute_not_exists(confirmed_at)"
        if replaced_hash is None:
            condition += " AND attribute_not_exists(token_hash)"
        else:
            condition += " AND token_hash = :old"
            values[":old"] = {"S": replaced_hash}
        items: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": _key(email),
                    "UpdateExpression": "SET token_hash = :new",
                    "ConditionExpression": condition,
                    "ExpressionAttributeValues": values,
                }
            },
            self._put_new(token),
        ]
        if replaced_hash is not None:
            pk = f"{ConfirmationToken.type_name}#{replaced_hash}"
            items.append(
                {"Delete": {"TableName": self._table, "Key": {"pk": {"S": pk}, "sk": {"S": "META"}}}}
            )
        if self._transact(items) is not None:
            raise accounts.WriteConflict

    def confirm(self, token: ConfirmationToken, *, now: datetime) -> None:
        reasons = self._transact(
            [
                {
                    "Delete": {
                        "TableName": self._table,
                        "Key": _key(token),
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": {"pk": {"S": f"{PartnerEmail.type_name}#{token.email}"}, "sk": {"S": "META"}},
                        "UpdateExpression": "SET confirmed_at = :now REMOVE token_hash",
                        "ConditionExpression": "token_hash = :h AND partner_id = :pid",
                        "ExpressionAttributeValues": {
                            ":now": {"S": now.isoformat()},
                            ":h": {"S": token.token_hash},
                            ":pid": {"S": token.partner_id},
                        },
                    }
                },
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": {"pk": {"S": f"{Partner.type_name}#{token.partner_id}"}, "sk": {"S": "META"}},
                        "UpdateExpression": "SET #s = :active",
                        "ConditionExpression": "#s = :pending",
                        "ExpressionAttributeNames": {"#s": "status"},
                        "ExpressionAttributeValues": {
                            ":active": {"S": PartnerStatus.ACTIVE.value},
                            ":pending": {"S": PartnerStatus.PENDING_CONFIRMATION.value},
                        },
                    }
                },
            ]
        )
        if reasons is None:
            return
        if _failed(reasons, 0) or _failed(reasons, 1):
            raise accounts.TokenInvalid
        raise accounts.WriteConflict

    # --- keys ----------------------------------------------------------------------------------------

    def add_key(self, key: ApiKey, *, manage: bool, keys_max: int) -> None:
        expression = "ADD key_ids :k, manage_key_ids :k" if manage else "ADD key_ids :k"
        ring = self._ring(
            key.partner_id,
            expression,
            {":k": _ss(key.key_id), ":max": {"N": str(keys_max)}},
            "attribute_not_exists(key_ids) OR size(key_ids) < :max",
        )
        reasons = self._transact([self._put_new(key), ring])
        if reasons is not None:
            if _failed(reasons, 1):
                raise accounts.KeyLimitReached
            raise accounts.WriteConflict

    def revoke_key(self, key: ApiKey, *, manage: bool, now: datetime) -> None:
        kid = {"S": key.key_id}
        ring_values: dict[str, Any] = {":k": _ss(key.key_id)}
        condition = None
        if manage:  # another keys:manage key stays on the ring
            condition = (
                "(contains(manage_key_ids, :kid) AND size(manage_key_ids) > :one)"
                " OR (NOT contains(manage_key_ids, :kid) AND attribute_exists(manage_key_ids))"
            )
            ring_values |= {":kid": kid, ":one": {"N": "1"}}
        reasons = self._transact(
            [
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": _key(key),
                        "UpdateExpression": "SET revoked_at = :now",
                        "ConditionExpression": (
                            "attribute_exists(pk) AND attribute_not_exists(revoked_at) AND partner_id = :pid"
                        ),
                        "ExpressionAttributeValues": {
                            ":now": {"S": now.isoformat()},
                            ":pid": {"S": key.partner_id},
                        },
                    }
                },
                self._ring(key.partner_id, "DELETE key_ids :k, manage_key_ids :k", ring_values, condition),
            ]
        )
        if reasons is None:
            return
        if _failed(reasons, 0):
            raise accounts.NotFound
        if _failed(reasons, 1):
            raise accounts.LastManageKey
        raise accounts.WriteConflict  # pragma: no cover - every item has a condition

    def key_by_id(self, partner_id: str, key_id: str) -> ApiKey | None:
        items = self._client.query(
            TableName=self._table,
            IndexName=_INDEX,
            KeyConditionExpression="gsi1pk = :pk AND gsi1sk = :sk",
            ExpressionAttributeValues={":pk": {"S": keys_pk(partner_id)}, ":sk": {"S": key_id}},
        ).get("Items", [])
        keys = [from_item(ApiKey, item) for item in items]
        return next((k for k in keys if k.partner_id == partner_id and k.key_id == key_id), None)

    def keys_of(self, partner_id: str, *, limit: int, cursor: str | None) -> tuple[list[ApiKey], str | None]:
        gsi1pk = keys_pk(partner_id)
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": _INDEX,
            "KeyConditionExpression": "gsi1pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": gsi1pk}},
            "Limit": limit,
        }
        if cursor is not None:
            try:
                pk, gsi1sk = decode_cursor(cursor)
            except InvalidCursor:
                raise accounts.InvalidCursor from None
            if not pk.startswith(f"{ApiKey.type_name}#"):
                raise accounts.InvalidCursor
            query["ExclusiveStartKey"] = {
                "pk": {"S": pk},
                "sk": {"S": "META"},
                "gsi1pk": {"S": gsi1pk},
                "gsi1sk": {"S": gsi1sk},
            }
        try:
            page = self._client.query(**query)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ValidationException" and cursor:
                raise accounts.InvalidCursor from None
            raise
        last = page.get("LastEvaluatedKey")
        found = [from_item(ApiKey, item) for item in page.get("Items", [])]
        return found, None if last is None else encode_cursor(last["pk"]["S"], last["gsi1sk"]["S"])

    # --- services ------------------------------------------------------------------------------------

    def create_service(
        self, service: PartnerService, claims: Sequence[PrefixClaim], *, services_max: int
    ) -> None:
        ring = self._ring(
            service.partner_id,
            "ADD service_ids :s",
            {":s": _ss(service.service_id), ":max": {"N": str(services_max)}},
            "attribute_not_exists(service_ids) OR size(service_ids) < :max",
        )
        items = [self._put_new(service), ring, *(self._put_new(claim) for claim in claims)]
        reasons = self._transact(items)
        if reasons is None:
            return
        taken = [claim.entity_id for n, claim in enumerate(claims) if _failed(reasons, n + 2)]
        if taken:
            raise PrefixTaken(taken)
        if _failed(reasons, 1):
            raise ServiceLimitReached
        raise accounts.WriteConflict

    def _release(self, claim: PrefixClaim) -> dict[str, Any]:
        return {
            "Delete": {
                "TableName": self._table,
                "Key": _key(claim),
                "ConditionExpression": _OWN_CLAIM,
                "ExpressionAttributeValues": {":sid": {"S": claim.service_id}},
            }
        }

    def update_service(
        self,
        before: PartnerService,
        after: PartnerService,
        *,
        release: Sequence[PrefixClaim],
        claim: Sequence[PrefixClaim],
    ) -> None:
        old, new = before.model_dump(mode="json"), model_attributes(after)
        changed = [name for name, value in after.model_dump(mode="json").items() if old.get(name) != value]
        names = {f"#f{n}": name for n, name in enumerate(changed)}
        values: dict[str, Any] = {":pid": {"S": before.partner_id}}
        sets = [f"#f{n} = :f{n}" for n, name in enumerate(changed) if name in new]
        removes = [f"#f{n}" for n, name in enumerate(changed) if name not in new]
        values |= {f":f{n}": new[name] for n, name in enumerate(changed) if name in new}
        condition = "attribute_exists(pk) AND partner_id = :pid"
        condition += _as_read(before, names, values, status="status" in changed)
        expression = " ".join(part for part in (_clause("SET", sets), _clause("REMOVE", removes)) if part)
        items: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": _key(after),
                    "UpdateExpression": expression,
                    "ConditionExpression": condition,
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": values,
                }
            },
            *(self._release(c) for c in release),
            *(self._put_new(c) for c in claim),
        ]
        reasons = self._transact(items)
        if reasons is None:
            return
        first_claim = 1 + len(release)
        taken = [c.entity_id for n, c in enumerate(claim) if _failed(reasons, first_claim + n)]
        if taken:
            raise PrefixTaken(taken)
        raise accounts.WriteConflict

    def delete_service(self, service: PartnerService, *, release: Sequence[PrefixClaim]) -> None:
        values: dict[str, Any] = {":pid": {"S": service.partner_id}}
        names: dict[str, str] = {}
        condition = "attribute_exists(pk) AND partner_id = :pid" + _as_read(
            service, names, values, status=False
        )
        items: list[dict[str, Any]] = [
            {
                "Delete": {
                    "TableName": self._table,
                    "Key": _key(service),
                    "ConditionExpression": condition,
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": values,
                }
            },
            self._ring(service.partner_id, "DELETE service_ids :s", {":s": _ss(service.service_id)}),
            *(self._release(c) for c in release),
        ]
        if self._transact(items) is not None:
            raise accounts.WriteConflict

    def services_of(
        self, partner_id: str, *, limit: int, cursor: str | None
    ) -> tuple[list[PartnerService], str | None]:
        try:
            found, cursor = self._entities.services(partner_id, limit=limit, cursor=cursor)
        except InvalidCursor:
            raise accounts.InvalidCursor from None
        # The index partitions by "<partner_id>#": a partner id with a "#" of its own (made outside
        # the API) could share a prefix with another's; only the caller's services are returned.
        return [s for s in found if s.partner_id == partner_id], cursor


def _as_read(before: PartnerService, names: dict[str, str], values: dict[str, Any], *, status: bool) -> str:
    """`` AND`` the stored ``updated_at`` (and ``status`` if asked) are those of ``before``."""
    names["#u"] = "updated_at"
    if before.updated_at is None:
        condition = " AND attribute_not_exists(#u)"
    else:
        values[":u"] = {"S": before.model_dump(mode="json")["updated_at"]}
        condition = " AND #u = :u"
    if status:
        names["#s"] = "status"
        values[":st"] = {"S": before.status.value}
        condition += " AND #s = :st"
    return condition


def _clause(keyword: str, parts: list[str]) -> str:
    return f"{keyword} {', '.join(parts)}" if parts else ""

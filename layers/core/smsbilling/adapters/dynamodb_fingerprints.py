"""Fingerprint claims of the duplicate control in the counters table (port in logic/duplicates.py).

One item per fingerprint: ``DUP#<sha256 hex>`` / ``DUP`` holding ``mid`` (the message holding
it), ``at_s`` (that message's time) and ``expires_at`` (the end of its window, epoch s; also the
table's TTL attribute). A claim is one conditional ``PutItem``:
``attribute_not_exists(pk) OR expires_at <= :now``, so an expired item that TTL has not deleted
yet counts as absent, and of two claims at once exactly one is written. The loser reads the
winner from ``ReturnValuesOnConditionCheckFailure=ALL_OLD`` (no second read, no race; an
engine that leaves it out is read once, consistently).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError

from smsbilling.domain.traffic import Action
from smsbilling.logic.duplicates import Claim, DuplicateControl
from smsbilling.logic.traffic_defaults import LiveTrafficLimits
from smsbilling.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_SK: Final = "DUP"
_ATTEMPTS_MAX: Final = 3  # a condition failure without the old item: it was deleted meanwhile, put again


def _condition_failed(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class DynamoFingerprintStore:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def claim(self, key: str, message_id: str, *, now_s: int, expires_at_s: int) -> Claim:
        for _ in range(_ATTEMPTS_MAX):
            try:
                self._client.put_item(
                    TableName=self._table,
                    Item={
                        "pk": {"S": f"DUP#{key}"},
                        "sk": {"S": _SK},
                        "mid": {"S": message_id},
                        "at_s": {"N": str(now_s)},
                        "expires_at": {"N": str(expires_at_s)},
                    },
                    ConditionExpression="attribute_not_exists(pk) OR expires_at <= :now",
                    ExpressionAttributeValues={":now": {"N": str(now_s)}},
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            except ClientError as error:
                if not _condition_failed(error):
                    raise
                old: dict[str, Any] = error.response.get("Item") or self._read(key)  # type: ignore[assignment]
                if "mid" in old and int(old["expires_at"]["N"]) > now_s:
                    return _claim_from(old)
                continue  # deleted (or expired) between the put and the read: put again
            return Claim(message_id=message_id, at_s=now_s, expires_at_s=expires_at_s)
        raise RuntimeError(f"fingerprint {key} could be neither claimed nor read")

    def _read(self, key: str) -> dict[str, Any]:
        """The item, for an engine that does not return it with the condition failure."""
        answer = self._client.get_item(
            TableName=self._table, Key={"pk": {"S": f"DUP#{key}"}, "sk": {"S": _SK}}, ConsistentRead=True
        )
        return dict(answer.get("Item") or {})


def _claim_from(item: dict[str, Any]) -> Claim:
    return Claim(
        message_id=item["mid"]["S"], at_s=int(item["at_s"]["N"]), expires_at_s=int(item["expires_at"]["N"])
    )


def build_duplicate_control(
    settings: Settings, client: DynamoDBClient, live: LiveTrafficLimits
) -> DuplicateControl:
    """The deployed duplicate control (adapters/traffic_guard.py, slot 1): the admin's window and
    action, read through ``live`` (the guard's one reader of the admin's traffic defaults)."""
    limits = settings.traffic
    return DuplicateControl(
        DynamoFingerprintStore(client, settings.tables.counters),
        window_s=limits.duplicate_window_s,
        action=Action(limits.duplicate_action),
        mt_purposes=limits.duplicate_mt_purposes,
        live=live,
    )

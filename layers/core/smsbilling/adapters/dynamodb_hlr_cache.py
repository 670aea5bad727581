"""HLR answers cached in the counters table (port in logic/hlr.py).

One item per MSISDN, ``HLR#<msisdn>`` / ``RESULT``, holding the answer's fields and
``expires_at`` (epoch s; the table's TTL attribute). DynamoDB deletes expired items lazily (up to
days later), so :meth:`DynamoHlrCache.get` treats an item whose ``expires_at`` has passed as absent.
A put replaces the item (the latest answer wins). Reads are eventually consistent (half the
cost): one just written may be missed once, which costs one more lookup, never a wrong answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from smsbilling.logic.hlr import HlrResult, HlrStatus

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

SORT_KEY = "RESULT"


def hlr_pk(msisdn: str) -> str:
    return f"HLR#{msisdn}"


class DynamoHlrCache:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def get(self, msisdn: str, *, now_s: int) -> HlrResult | None:
        item = self._client.get_item(
            TableName=self._table, Key={"pk": {"S": hlr_pk(msisdn)}, "sk": {"S": SORT_KEY}}
        ).get("Item")
        if not item or int(item["expires_at"]["N"]) <= now_s:
            return None
        return _result(item)

    def put(self, msisdn: str, result: HlrResult, *, now_s: int, ttl_s: int) -> None:
        item: dict[str, Any] = {
            "pk": {"S": hlr_pk(msisdn)},
            "sk": {"S": SORT_KEY},
            "status": {"S": result.status.value},
            "absent": {"BOOL": result.absent},
            "provider_failed": {"BOOL": result.provider_failed},
            "looked_up_at": {"N": str(now_s)},
            "expires_at": {"N": str(now_s + ttl_s)},
        }
        if result.network is not None:
            item["network"] = {"S": result.network}
        if result.ported is not None:
            item["ported"] = {"BOOL": result.ported}
        if result.error:
            item["error"] = {"S": result.error}
        self._client.put_item(TableName=self._table, Item=item)


def _result(item: dict[str, Any]) -> HlrResult:
    return HlrResult(
        status=HlrStatus(item["status"]["S"]),
        network=item["network"]["S"] if "network" in item else None,
        ported=item["ported"]["BOOL"] if "ported" in item else None,
        error=item["error"]["S"] if "error" in item else "",
        absent=item.get("absent", {}).get("BOOL", False),
        provider_failed=item.get("provider_failed", {}).get("BOOL", False),
    )

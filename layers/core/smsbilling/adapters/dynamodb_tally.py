"""The partner's period tally in the counters table, counted once per message.

Items (partition ``TALLY#<partner>#<period YYYY-MM>``):

==============  ==============================================================================
sk              attributes
==============  ==============================================================================
``TALLY``       ``cur``; per distinct gross amount ``g``: ``n_<g>`` (count), ``p_<g>`` (partner
                booked), ``r_<g>`` (referral booked), all changed with ``ADD`` only
``MSG#<id>``    the message's marker: the split it was counted with, ``st`` counted / removed
==============  ==============================================================================

Counting is one ``TransactWriteItems``: the marker is put with ``attribute_not_exists(pk)`` and
the tally item is updated by ``ADD``, so a repeated message (its marker exists) cancels the whole
transaction and counts nothing, and concurrent messages of one partner never overwrite each
other (``ADD`` commutes; only ``TransactionConflict`` on the hot item is retried, with jitter).
Markers never expire: they are the period's list of counted messages (for audit and the recount).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from smsbilling.adapters.pacing import jitter_ms, sleep_ms
from smsbilling.domain.rating import PeriodTally, Split, TallyLine
from smsbilling.domain.tariff import TariffError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_TALLY_SK = "TALLY"
_COUNTED, _REMOVED = "counted", "removed"
_SPLIT_FIELDS = {
    "price": "price",
    "vat": "vat",
    "operator_share": "op",
    "gross": "gross",
    "aggregator": "agg",
    "partner": "partner",
    "referral": "referral",
    "step_index": "step",
    "commission_bps": "comm",
}


class TallyBusy(Exception):
    """Contention on the partner's tally did not clear within the retries; safe to retry later."""


def _pk(partner_id: str, period: str) -> dict[str, str]:
    return {"S": f"TALLY#{partner_id}#{period}"}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _marker_item(pk: dict[str, str], message_id: str, split: Split) -> dict[str, Any]:
    item: dict[str, Any] = {"pk": pk, "sk": {"S": f"MSG#{message_id}"}, "cur": {"S": split.currency}}
    item |= {attr: _n(getattr(split, name)) for name, attr in _SPLIT_FIELDS.items()}
    return item | {"st": {"S": _COUNTED}}


def _split_from(item: dict[str, Any]) -> Split:
    values = {name: int(item[attr]["N"]) for name, attr in _SPLIT_FIELDS.items()}
    return Split(currency=item["cur"]["S"], **values)


def _tally_from(item: dict[str, Any]) -> PeriodTally:
    lines: dict[int, TallyLine] = {}
    for name, value in item.items():
        if name.startswith("n_"):
            gross = int(name[2:])
            count = int(value["N"])
            if count:
                partner = int(item.get(f"p_{gross}", {"N": "0"})["N"])
                referral = int(item.get(f"r_{gross}", {"N": "0"})["N"])
                lines[gross] = TallyLine(count, partner, referral)
    return PeriodTally(item["cur"]["S"], MappingProxyType(lines))


def _tally_update(table: str, pk: dict[str, str], split: Split, sign: int) -> dict[str, Any]:
    g = split.gross
    return {
        "TableName": table,
        "Key": {"pk": pk, "sk": {"S": _TALLY_SK}},
        "UpdateExpression": "SET cur = if_not_exists(cur, :cur) ADD #n :n, #p :p, #r :r",
        "ConditionExpression": "attribute_not_exists(cur) OR cur = :cur",
        "ExpressionAttributeNames": {"#n": f"n_{g}", "#p": f"p_{g}", "#r": f"r_{g}"},
        "ExpressionAttributeValues": {
            ":cur": {"S": split.currency},
            ":n": _n(sign),
            ":p": _n(sign * split.partner),
            ":r": _n(sign * split.referral),
        },
    }


class DynamoTallyStore:
    def __init__(
        self, client: DynamoDBClient, table: str, *, conflict_retries_max: int = 6, backoff_base_ms: int = 5
    ) -> None:
        self._client = client
        self._table = table
        self._retries = conflict_retries_max
        self._backoff_ms = backoff_base_ms

    def _get(self, pk: dict[str, str], sk: str) -> dict[str, Any] | None:
        item = self._client.get_item(
            TableName=self._table, Key={"pk": pk, "sk": {"S": sk}}, ConsistentRead=True
        ).get("Item")
        return dict(item) if item else None

    def get(self, partner_id: str, period: str) -> PeriodTally | None:
        item = self._get(_pk(partner_id, period), _TALLY_SK)
        return _tally_from(item) if item else None

    def recorded(self, partner_id: str, period: str, message_id: str) -> Split | None:
        item = self._get(_pk(partner_id, period), f"MSG#{message_id}")
        return _split_from(item) if item else None

    def record(self, partner_id: str, period: str, message_id: str, split: Split) -> Split:
        pk = _pk(partner_id, period)
        update = _tally_update(self._table, pk, split, +1)
        reasons = self._transact(
            [
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": _marker_item(pk, message_id, split),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {"Update": update},
            ]
        )
        if reasons is None:
            return split
        if reasons[0] == "ConditionalCheckFailed":  # counted before (by a retry or a concurrent attempt)
            earlier = self.recorded(partner_id, period, message_id)
            if earlier is None:
                raise TallyBusy(f"marker of {message_id} vanished")
            return earlier
        if reasons[1] != "ConditionalCheckFailed":
            raise TallyBusy(f"tally {partner_id}/{period} not updated: {reasons}")
        raise TariffError(f"tally {partner_id}/{period} is in another currency than {split.currency}")

    def remove(self, partner_id: str, period: str, message_id: str) -> bool:
        pk = _pk(partner_id, period)
        marker = self._get(pk, f"MSG#{message_id}")
        if marker is None or marker["st"]["S"] != _COUNTED:
            return False
        split = _split_from(marker)
        update = _tally_update(self._table, pk, split, -1)
        reasons = self._transact(
            [
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": {"pk": pk, "sk": {"S": f"MSG#{message_id}"}},
                        "UpdateExpression": "SET st = :removed",
                        "ConditionExpression": "st = :counted",
                        "ExpressionAttributeValues": {
                            ":removed": {"S": _REMOVED},
                            ":counted": {"S": _COUNTED},
                        },
                    }
                },
                {"Update": update},
            ]
        )
        return reasons is None

    def _transact(self, items: list[dict[str, Any]]) -> list[str] | None:
        """Run the transaction: None when committed, else the cancellation reason codes."""
        for attempt in range(self._retries + 1):
            try:
                self._client.transact_write_items(TransactItems=items)  # type: ignore[arg-type]
                return None
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                    raise
                reasons = [r.get("Code", "None") for r in error.response.get("CancellationReasons") or []]
                if "ConditionalCheckFailed" in reasons or "TransactionConflict" not in reasons:
                    return reasons
                if attempt < self._retries:
                    sleep_ms(jitter_ms(self._backoff_ms * 2**attempt))
        raise TallyBusy("transaction conflict on the tally persisted")

"""DynamoDB adapter for inbound messages (messages table): ``pk = "MSG#<message_id>"``, ``sk = "META"``."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from smsbilling.domain.inbound import MoState, StoredMo

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_META = "META"


def _msg_key(message_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"MSG#{message_id}"}, "sk": {"S": _META}}


def _mo_to_item(mo: StoredMo) -> dict[str, Any]:
    return {
        **_msg_key(mo.message_id),
        "type": {"S": "mo"},
        "link_id": {"S": mo.link_id},
        "operator_id": {"S": mo.operator_id},
        "operator_message_id": {"S": mo.operator_message_id},
        "source": {"S": mo.source},
        "destination": {"S": mo.destination},
        "text": {"S": mo.text},
        "state": {"S": mo.state.value},
        "received_at": {"S": mo.received_at.isoformat()},
    }


def _mo_from_item(item: dict[str, Any]) -> StoredMo:
    return StoredMo(
        message_id=item["pk"]["S"].removeprefix("MSG#"),
        link_id=item["link_id"]["S"],
        operator_id=item["operator_id"]["S"],
        operator_message_id=item["operator_message_id"]["S"],
        source=item["source"]["S"],
        destination=item["destination"]["S"],
        text=item["text"]["S"],
        state=MoState(item["state"]["S"]),
        received_at=datetime.fromisoformat(item["received_at"]["S"]),
    )


def _is_condition_failure(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class DynamoInboundStore:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def put_if_absent(self, mo: StoredMo) -> StoredMo:
        try:
            self._client.put_item(
                TableName=self._table,
                Item=_mo_to_item(mo),
                ConditionExpression="attribute_not_exists(pk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if not _is_condition_failure(error):
                raise
            old: dict[str, Any] | None = error.response.get("Item")  # type: ignore[assignment]
            existing = _mo_from_item(old) if old else self.get(mo.message_id)
            if existing is None:  # deleted in between: vanishingly rare, and safe to retry
                raise
            return existing
        return mo

    def advance_state(self, message_id: str, from_state: MoState, to_state: MoState) -> bool:
        try:
            self._client.update_item(
                TableName=self._table,
                Key=_msg_key(message_id),
                UpdateExpression="SET #s = :to",
                ConditionExpression="#s = :from",
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={":to": {"S": to_state.value}, ":from": {"S": from_state.value}},
            )
        except ClientError as error:
            if _is_condition_failure(error):
                return False
            raise
        return True

    def get(self, message_id: str) -> StoredMo | None:
        item = self._client.get_item(
            TableName=self._table, Key=_msg_key(message_id), ConsistentRead=True
        ).get("Item")
        return _mo_from_item(item) if item else None

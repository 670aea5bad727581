"""The SES notifier: the confirmation e-mail through Amazon SES v2 (``sesv2`` ``SendEmail``).

Used on AWS with ``settings.accounts.notifier = "ses"`` and a verified ``ses_from_address``; the
function then needs ``ses:SendEmail`` on that identity. The token is in the e-mail only, never in a
log. Any failure of SES becomes :class:`~smsbilling.logic.notifier.NotificationFailed`, with the
error code and not the message (which may quote the address).
"""

from __future__ import annotations

from typing import Any, Protocol

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from smsbilling.logic.notifier import ConfirmationNotice, NotificationFailed, confirmation_message


class SesV2Client(Protocol):
    """The one call used of ``boto3.client("sesv2")`` (no sesv2 stubs in the project's pins)."""

    def send_email(self, **kwargs: Any) -> Any: ...


class SesNotifier:
    def __init__(self, client: SesV2Client, from_address: str) -> None:
        if not from_address:
            raise ValueError(
                "the SES notifier needs a sender address (SMSBILLING_ACCOUNTS__SES_FROM_ADDRESS)"
            )
        self._client = client
        self._from = from_address

    def send_confirmation(self, notice: ConfirmationNotice) -> None:
        subject, body = confirmation_message(notice)
        try:
            self._client.send_email(
                FromEmailAddress=self._from,
                Destination={"ToAddresses": [notice.email]},
                Content={
                    "Simple": {
                        "Subject": {"Data": subject, "Charset": "UTF-8"},
                        "Body": {"Text": {"Data": body, "Charset": "UTF-8"}},
                    }
                },
                EmailTags=[{"Name": "kind", "Value": "partner-confirmation"}],
            )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "ClientError")
            raise NotificationFailed(f"SES refused the e-mail: {code}") from None
        except BotoCoreError as error:
            raise NotificationFailed(f"SES could not be reached: {type(error).__name__}") from None


def ses_notifier(from_address: str) -> SesNotifier:
    """The notifier over a ``sesv2`` client from the SDK's own configuration (region, endpoint)."""
    config = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3, read_timeout=5)
    return SesNotifier(boto3.client("sesv2", config=config), from_address)

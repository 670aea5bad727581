"""The notifier adapters: the log shows a token on the local stage only; SES gets one e-mail."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from smsbilling.adapters.notifier_log import SENT_LOG_MESSAGE, TOKEN_LOG_MESSAGE, LogNotifier
from smsbilling.adapters.notifier_ses import SesNotifier
from smsbilling.logic.notifier import (
    ConfirmationNotice,
    NotificationFailed,
    confirm_url,
    confirmation_message,
)
from smsbilling.settings import PartnerAccountLimits, Settings
from smsbilling.web.account_deps import build_notifier

TOKEN = "ct_secret-token-value"
NOTICE = ConfirmationNotice(
    partner_id="ptr_1",
    name="Acme",
    email="owner@example.com",
    token=TOKEN,
    expires_at=datetime(2026, 11, 24, 12, 0, tzinfo=UTC),
    confirm_url=confirm_url("https://portal.example.com/confirm?token={token}", TOKEN),
)


class FakeLogger:
    def __init__(self) -> None:
        self.lines: list[tuple[str, dict[str, Any]]] = []

    def info(self, msg: object, *args: Any, **kwargs: Any) -> None:
        self.lines.append((str(msg), dict(kwargs.get("extra") or {})))


def test_the_log_never_shows_the_token_off_the_local_stage() -> None:
    log = FakeLogger()
    LogNotifier(log, reveal_token=False).send_confirmation(NOTICE)
    assert [msg for msg, _ in log.lines] == [SENT_LOG_MESSAGE]
    assert TOKEN not in repr(log.lines) and "owner@example.com" not in repr(log.lines)
    assert log.lines[0][1]["email"] == "o***@example.com"
    assert TOKEN not in repr(NOTICE)  # nor does the notice's repr, should anything log it


def test_the_local_log_shows_the_token_and_the_link() -> None:
    log = FakeLogger()
    LogNotifier(log, reveal_token=True).send_confirmation(NOTICE)
    (message, extra) = log.lines[-1]
    assert message == TOKEN_LOG_MESSAGE and extra["token"] == TOKEN and extra["partner_id"] == "ptr_1"
    assert extra["confirm_url"] == f"https://portal.example.com/confirm?token={TOKEN}"


class FakeSes:
    def __init__(self, error: Exception | None = None) -> None:
        self.sent: list[dict[str, Any]] = []
        self.error = error

    def send_email(self, **kwargs: Any) -> dict[str, Any]:
        if self.error is not None:
            raise self.error
        self.sent.append(kwargs)
        return {"MessageId": "m1"}


def test_ses_sends_one_e_mail_with_the_link() -> None:
    ses = FakeSes()
    SesNotifier(ses, "no-reply@aggregator.example").send_confirmation(NOTICE)
    (call,) = ses.sent
    assert call["FromEmailAddress"] == "no-reply@aggregator.example"
    assert call["Destination"] == {"ToAddresses": ["owner@example.com"]}
    body = call["Content"]["Simple"]["Body"]["Text"]["Data"]
    assert NOTICE.confirm_url in body and "2026-11-24 12:00 UTC" in body
    assert call["Content"]["Simple"]["Subject"]["Data"] == "Confirm your partner account"


def test_without_a_link_the_e_mail_carries_the_token() -> None:
    _, body = confirmation_message(ConfirmationNotice("p", "n", "e@example.com", TOKEN, NOTICE.expires_at))
    assert f'{{"token": "{TOKEN}"}}' in body and "POST /v1/partners/confirm" in body


@pytest.mark.parametrize(
    "error",
    [
        ClientError({"Error": {"Code": "MessageRejected", "Message": "owner@example.com"}}, "SendEmail"),
        EndpointConnectionError(endpoint_url="https://email.example"),
    ],
)
def test_ses_failures_are_notification_failures(error: Exception) -> None:
    with pytest.raises(NotificationFailed) as failed:
        SesNotifier(FakeSes(error), "no-reply@aggregator.example").send_confirmation(NOTICE)
    assert "owner@example.com" not in str(failed.value)


def test_ses_needs_a_sender() -> None:
    with pytest.raises(ValueError, match="sender"):
        SesNotifier(FakeSes(), "")


def test_the_deployed_notifier_follows_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # as on Lambda; no call is made
    local = build_notifier(Settings(stage="local"))
    prod = build_notifier(Settings(stage="prod"))
    assert isinstance(local, LogNotifier) and local._reveal is True
    assert isinstance(prod, LogNotifier) and prod._reveal is False
    ses = build_notifier(
        Settings(
            stage="prod", accounts=PartnerAccountLimits(notifier="ses", ses_from_address="a@example.com")
        )
    )
    assert isinstance(ses, SesNotifier)

"""The logging notifier: confirmation tokens "sent" to the function's log.

It always logs that a token went out (partner id, the address masked, the expiry). Only when
``reveal_token`` is set, which the partner API does on the ``local`` stage and nowhere else, it logs
the token and the confirmation link too, so a developer (and the integration tests, through the
local cloud's CloudWatch Logs) can confirm a registration without an e-mail server. On any other
stage a token in a log would be a credential in a log, so it never appears there.
"""

from __future__ import annotations

from typing import Any, Protocol

from smsbilling.logic.notifier import ConfirmationNotice

TOKEN_LOG_MESSAGE = "partner confirmation token (local stage only)"  # noqa: S105 - a log message
SENT_LOG_MESSAGE = "partner confirmation token sent"


class InfoLogger(Protocol):
    def info(self, msg: object, *args: Any, **kwargs: Any) -> Any: ...


def mask_email(address: str) -> str:
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


class LogNotifier:
    def __init__(self, logger: InfoLogger, *, reveal_token: bool) -> None:
        self._logger = logger
        self._reveal = reveal_token

    def send_confirmation(self, notice: ConfirmationNotice) -> None:
        self._logger.info(
            SENT_LOG_MESSAGE,
            extra={
                "partner_id": notice.partner_id,
                "email": mask_email(notice.email),
                "expires_at": notice.expires_at.isoformat(),
            },
        )
        if self._reveal:
            self._logger.info(
                TOKEN_LOG_MESSAGE,
                extra={
                    "partner_id": notice.partner_id,
                    "token": notice.token,
                    "confirm_url": notice.confirm_url,
                },
            )

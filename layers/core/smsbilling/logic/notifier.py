"""The notifier port: how a partner receives its e-mail confirmation token.

Registration (:mod:`smsbilling.logic.partner_accounts`) hands a :class:`ConfirmationNotice` to a
:class:`Notifier`. Adapters: ``adapters.notifier_log.LogNotifier`` (the default; it logs that a
token went out, and the token itself only on the local stage, where a developer or a test reads it
from the function's log) and ``adapters.notifier_ses.SesNotifier`` (an e-mail through Amazon SES v2,
``settings.accounts.notifier = "ses"``). The text of the e-mail is built here, once, for every
adapter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


class NotificationFailed(Exception):
    """The notice could not be handed over (the registration stands; the partner asks again)."""


@dataclass(frozen=True, slots=True)
class ConfirmationNotice:
    partner_id: str
    name: str
    email: str
    token: str = field(repr=False)
    expires_at: datetime
    confirm_url: str | None = field(default=None, repr=False)  # carries the token too


class Notifier(Protocol):
    def send_confirmation(self, notice: ConfirmationNotice) -> None:
        """Deliver the token to ``notice.email``; NotificationFailed when it cannot."""
        ...


def confirm_url(template: str, token: str) -> str | None:
    """The link to put in the e-mail: ``template`` with ``{token}`` replaced (None when unset)."""
    if not template:
        return None
    return template.replace("{token}", token)


def confirmation_message(notice: ConfirmationNotice) -> tuple[str, str]:
    """Subject and plain-text body of the confirmation e-mail."""
    expires = notice.expires_at.strftime("%Y-%m-%d %H:%M UTC")
    how = (
        f"Open this link to confirm it:\n\n  {notice.confirm_url}\n\n"
        if notice.confirm_url
        else "Confirm it by sending this token to POST /v1/partners/confirm:\n\n"
        f'  {{"token": "{notice.token}"}}\n\n'
    )
    body = (
        f"Hello {notice.name},\n\n"
        f"someone (we hope you) registered this e-mail address as a partner account ({notice.partner_id}).\n"
        f"{how}"
        f"The token can be used once and expires at {expires}. If you did not register, ignore this e-mail.\n"
    )
    return "Confirm your partner account", body

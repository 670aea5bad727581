"""Transfer kinds: the legs each business event posts (pure builders over the chart of accounts).

==========================  ===========================================================  ========
kind                        legs (D = debit, C = credit)                                 currency
==========================  ===========================================================  ========
``mo_charge``/``mt_charge`` D operator receivable (vat + gross); C VAT payable (vat);        money
                            C platform revenue (aggregator); C partner earned (partner);
                            D referral expense, C referrer earned (referral)
``recount``                 D revenue, C partner earned (partner delta); D referral      money
                            expense, C referrer earned (referral delta); signs flip for
                            negative deltas
``settlement``              D partner earned, C partner available                        money
``payout`` (pending)        D partner available, C partner payouts                       money
``sms_cost``                D platform SMS cost, C operator payable                      money
``credit_topup``            D platform credits issued, C partner credits                 credits
``credit_block_reserve``    D partner credits, C partner credit block                    credits
``credit_block_release``    D partner credit block, C partner credits                    credits
``sms_credits``             D partner credit block, C platform credits consumed          credits
==========================  ===========================================================  ========

``mt_charge`` is posted *pending* (MT-billing: charged when the DLR says delivered, voided
otherwise). Zero legs are left out; a builder returns None when nothing moves.
"""

from __future__ import annotations

from smsbilling.domain import accounts as acc
from smsbilling.domain.accounts import Book
from smsbilling.domain.ledger import Leg, Transfer, TransferKind, transfer_id
from smsbilling.domain.money import CREDITS
from smsbilling.domain.rating import RatedMessage, Recount, ServiceRef, Split


def _legs(*pairs: tuple[acc.Account, int]) -> tuple[Leg, ...]:
    return tuple(Leg(account, amount) for account, amount in pairs if amount)


def _transfer(
    kind: TransferKind,
    key: str,
    currency: str,
    legs: tuple[Leg, ...],
    at_ms: int,
    *,
    pending: bool = False,
) -> Transfer | None:
    if not legs:
        return None
    return Transfer(transfer_id(key, str(kind)), kind, currency, legs, key, at_ms, pending)


def charge(message: RatedMessage, service: ServiceRef, split: Split, *, mt_billing: bool) -> Transfer | None:
    """The charge of one rated message (pending when billed on MT delivery)."""
    kind = TransferKind.MT_CHARGE if mt_billing else TransferKind.MO_CHARGE
    pairs = [
        (acc.operator(message.operator, Book.RECEIVABLE), split.vat + split.gross),
        (acc.platform(Book.VAT_PAYABLE), -split.vat),
        (acc.platform(Book.REVENUE), -split.aggregator),
        (acc.partner(service.partner_id, Book.EARNED_PENDING), -split.partner),
    ]
    if service.referrer_id is not None:
        pairs.append((acc.platform(Book.REFERRAL_EXPENSE), split.referral))
        pairs.append((acc.partner(service.referrer_id, Book.EARNED_PENDING), -split.referral))
    legs = _legs(*pairs)
    return _transfer(kind, message.message_id, split.currency, legs, message.at_ms, pending=mt_billing)


def recount_adjustment(
    service: ServiceRef, period: str, currency: str, result: Recount, at_ms: int
) -> Transfer | None:
    """The one adjustment that makes the period as if its final step applied from the start."""
    partner_id, referrer_id = service.partner_id, service.referrer_id
    pairs = [
        (acc.platform(Book.REVENUE), result.partner_delta),
        (acc.partner(partner_id, Book.EARNED_PENDING), -result.partner_delta),
    ]
    if referrer_id is not None:
        pairs.append((acc.platform(Book.REFERRAL_EXPENSE), result.referral_delta))
        pairs.append((acc.partner(referrer_id, Book.EARNED_PENDING), -result.referral_delta))
    legs = _legs(*pairs)
    return _transfer(TransferKind.RECOUNT, f"{partner_id}|{period}", currency, legs, at_ms)


def settlement(partner_id: str, period: str, currency: str, amount: int, at_ms: int) -> Transfer | None:
    legs = _legs(
        (acc.partner(partner_id, Book.EARNED_PENDING), amount),
        (acc.partner(partner_id, Book.AVAILABLE), -amount),
    )
    return _transfer(TransferKind.SETTLEMENT, f"{partner_id}|{period}", currency, legs, at_ms)


def payout(partner_id: str, payout_id: str, currency: str, amount: int, at_ms: int) -> Transfer | None:
    legs = _legs(
        (acc.partner(partner_id, Book.AVAILABLE), amount),
        (acc.partner(partner_id, Book.PAYOUTS), -amount),
    )
    return _transfer(TransferKind.PAYOUT, payout_id, currency, legs, at_ms, pending=True)


def sms_cost(operator_id: str, message_id: str, currency: str, amount: int, at_ms: int) -> Transfer | None:
    legs = _legs(
        (acc.platform(Book.SMS_COST), amount),
        (acc.operator(operator_id, Book.PAYABLE), -amount),
    )
    return _transfer(TransferKind.SMS_COST, message_id, currency, legs, at_ms)


def credit_topup(partner_id: str, payment_id: str, credits: int, at_ms: int) -> Transfer | None:
    legs = _legs(
        (acc.platform(Book.CREDITS_ISSUED), credits), (acc.partner(partner_id, Book.CREDITS), -credits)
    )
    return _transfer(TransferKind.CREDIT_TOPUP, payment_id, CREDITS, legs, at_ms)


def block_reserve(partner_id: str, slot: int, key: str, credits: int, at_ms: int) -> Transfer | None:
    legs = _legs(
        (acc.partner(partner_id, Book.CREDITS), credits), (acc.credit_block(partner_id, slot), -credits)
    )
    return _transfer(TransferKind.CREDIT_BLOCK_RESERVE, key, CREDITS, legs, at_ms)


def block_release(partner_id: str, slot: int, key: str, credits: int, at_ms: int) -> Transfer | None:
    legs = _legs(
        (acc.credit_block(partner_id, slot), credits), (acc.partner(partner_id, Book.CREDITS), -credits)
    )
    return _transfer(TransferKind.CREDIT_BLOCK_RELEASE, key, CREDITS, legs, at_ms)


def sms_credits(partner_id: str, slot: int, message_id: str, credits: int, at_ms: int) -> Transfer | None:
    legs = _legs(
        (acc.credit_block(partner_id, slot), credits),
        (acc.platform(Book.CREDITS_CONSUMED), -credits),
    )
    return _transfer(TransferKind.SMS_CREDITS, message_id, CREDITS, legs, at_ms)

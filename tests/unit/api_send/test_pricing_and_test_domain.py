"""The pure parts: credit prices by route and partner, what an MT's end consumes, simulated test MTs."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsbilling.domain import accounts as acc
from smsbilling.domain import mt as lifecycle
from smsbilling.domain import postings
from smsbilling.domain.accounts import Book
from smsbilling.domain.dlr import DlrStatus
from smsbilling.domain.entities import Operator
from smsbilling.domain.handler_testing import SIMULATED_REASON, simulated_delivery
from smsbilling.domain.ledger import Leg, Transfer
from smsbilling.domain.mt_encoding import EncodingRefused, encode_text, operator_for
from smsbilling.domain.sms_credits import (
    CreditRate,
    CreditRates,
    accepted_parts,
    consumed_legs,
    route_credits,
    send_credits,
)
from smsbilling.domain.text import count_segments
from smsbilling.logic.test_tool import with_prefix


def test_prices_default_route_and_partner_most_specific_first() -> None:
    assert send_credits(route_credits(None), "p1", "op1", 3) == 3  # 1 per part by default
    rates = CreditRates(
        outbound_default=2,
        rates=(
            CreditRate(route="op1", credits_per_part=4),
            CreditRate(route="*", partner_id="vip", credits_per_part=1),
            CreditRate(route="op1", partner_id="vip", credits_per_part=0),
        ),
    )
    rule = route_credits(rates)
    assert [
        send_credits(rule, p, op, 2)
        for p, op in [("p1", "op2"), ("p1", "op1"), ("vip", "op2"), ("vip", "op1")]
    ] == [
        4,
        8,
        2,
        0,
    ]


def reserved(credits: int) -> Transfer:
    transfer = postings.sms_credits("p1", 0, "mt-1", credits, 0)
    assert transfer is not None
    return replace(transfer, pending=True)


@given(per_part=st.integers(1, 50), parts=st.integers(1, 10), data=st.data())
def test_consumed_share_is_exact_and_balanced(per_part: int, parts: int, data: st.DataObject) -> None:
    accepted = data.draw(st.integers(0, parts))
    legs = consumed_legs(reserved(per_part * parts), parts=parts, accepted=accepted)
    if accepted == 0:
        assert legs is None
        return
    assert legs is not None and sum(leg.amount for leg in legs) == 0
    debit = next(leg for leg in legs if leg.amount > 0)
    assert debit == Leg(acc.credit_block("p1", 0), per_part * accepted)
    assert {leg.account for leg in legs} == {acc.credit_block("p1", 0), acc.platform(Book.CREDITS_CONSUMED)}


def test_consumed_refuses_what_is_not_a_reservation_of_those_parts() -> None:
    with pytest.raises(ValueError, match="not a reservation"):
        consumed_legs(postings.sms_credits("p1", 0, "m", 2, 0), parts=2, accepted=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="accepted 3 of 2"):
        consumed_legs(reserved(2), parts=2, accepted=3)


def test_accepted_parts_count_what_an_operator_took() -> None:
    mt = lifecycle.new_mt("m", 3, now_ms=0, final_wait_ms=1000)
    mt = lifecycle.apply(mt, lifecycle.HandedToLink(1)).mt
    mt = lifecycle.apply(mt, lifecycle.SubmitAccepted(0, "a", "a", 2)).mt
    mt = lifecycle.apply(mt, lifecycle.SubmitRejected(1, "0x45", 2)).mt
    assert accepted_parts(mt) == 1
    mt = lifecycle.apply(mt, lifecycle.ExpiryDue(1000)).mt  # part 3 never answered
    assert mt.is_final and accepted_parts(mt) == 1


@pytest.mark.parametrize("parts", [1, 2, 7])
def test_a_simulated_delivery_is_a_delivered_mt_of_every_part(parts: int) -> None:
    mt = simulated_delivery(lifecycle.new_mt("m", parts, now_ms=0, final_wait_ms=1000), 5)
    assert (mt.state, mt.reason, mt.final_at_ms, len(mt.parts)) == (
        lifecycle.MtState.DELIVERED,
        SIMULATED_REASON,
        5,
        parts,
    )
    assert all(p.state is lifecycle.MtState.DELIVERED for p in mt.parts)
    refused = lifecycle.new_mt("r", 1, now_ms=0, final_wait_ms=1000)
    refused = lifecycle.apply(refused, lifecycle.SubmitRejected(0, "blacklisted", 0)).mt
    assert simulated_delivery(refused, 5) == refused  # a refusal stands
    assert lifecycle.apply(mt, lifecycle.ReceiptReceived("test-1", DlrStatus.UNDELIVERED, "x", 9)).mt == mt


@pytest.mark.parametrize(
    "text", ["Hi", "x" * 160, "x" * 161, "€" * 80, "Привет", "😀" * 40, "[" * 100, "a" * 1530]
)
def test_the_api_counts_the_parts_the_mt_processor_cuts(text: str) -> None:
    encoded = encode_text("mt-1", text, segments_max=10, text_chars_max=1530)
    assert encoded.parts == count_segments(text) == len(encoded.parts_hex)


def test_encoding_refuses_what_cannot_be_sent() -> None:
    with pytest.raises(EncodingRefused, match=r"^text: "):
        encode_text("mt-1", "a" * 1531, segments_max=10, text_chars_max=1530)
    with pytest.raises(EncodingRefused):
        encode_text("mt-1", "x" * 400, segments_max=2, text_chars_max=1530)


def test_the_longest_prefix_picks_the_operator() -> None:
    operators = [
        Operator(operator_id="uk", name="UK", country_code="44", currency="GBP", msisdn_prefixes=("44",)),
        Operator(
            operator_id="uk7", name="UK7", country_code="44", currency="GBP", msisdn_prefixes=("4477", "")
        ),
    ]
    assert [operator_for(n, operators) for n in ("447700900123", "441234567890", "351912345678")] == [
        "uk7",
        "uk",
        None,
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ABC 1", "ABC 1"),
        ("abc", "abc"),
        ("\uff21\uff22\uff23 1", "\uff21\uff22\uff23 1"),  # full-width
        ("\u0410\u0412\u0421 1", "\u0410\u0412\u0421 1"),  # Cyrillic look-alikes
        ("ABCD 1", "ABC ABCD 1"),
        ("1", "ABC 1"),
    ],
)
def test_with_prefix_folds_like_routing(text: str, expected: str) -> None:
    assert with_prefix(text, "ABC") == expected

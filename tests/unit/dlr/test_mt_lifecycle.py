"""The MT lifecycle by worked example: single parts, multi-part aggregation, refusals, billing."""

from __future__ import annotations

import pytest

from smsbilling.domain.dlr import DlrStatus, IdFormat, receipt_id_key, submit_id_key
from smsbilling.domain.entities import BillingModel
from smsbilling.domain.mt import (
    BillingAction,
    ExpiryDue,
    HandedToLink,
    Mt,
    MtEvent,
    MtState,
    Outcome,
    ReceiptParts,
    ReceiptReceived,
    SubmitAccepted,
    SubmitRejected,
    Transition,
    apply,
    billing_action,
    expiry_due,
    new_mt,
    partner_status,
)

WAIT_MS = 48 * 3600 * 1000
S, D = MtState, DlrStatus


def fresh(parts: int = 1, receipt_parts: ReceiptParts = ReceiptParts.ALL) -> Mt:
    return new_mt("mt-1", parts, now_ms=0, final_wait_ms=WAIT_MS, receipt_parts=receipt_parts)


def ok(part: int, op_id: str, t: int = 2) -> SubmitAccepted:
    return SubmitAccepted(part, op_id, op_id, t)


def dlr(op_id: str, status: DlrStatus, t: int = 3, reason: str = "") -> ReceiptReceived:
    return ReceiptReceived(op_id, status, reason or status.value, t)


def run(mt: Mt, *events: MtEvent) -> tuple[Mt, list[Transition]]:
    steps = []
    for e in events:
        step = apply(mt, e)
        steps.append(step)
        mt = step.mt
    return mt, steps


def outcomes(steps: list[Transition]) -> list[Outcome]:
    return [s.outcome for s in steps]


# --- one part ----------------------------------------------------------------------------------------


def test_happy_path() -> None:
    mt = fresh()
    assert mt.state is S.QUEUED and not expiry_due(mt, WAIT_MS - 1) and expiry_due(mt, WAIT_MS)
    mt, steps = run(
        mt, HandedToLink(1), ok(0, "m1"), dlr("m1", D.ENROUTE), dlr("m1", D.DELIVERED, 4, "DELIVRD err:000")
    )
    assert [s.mt.state for s in steps] == [S.SENT, S.ACCEPTED, S.ACCEPTED, S.DELIVERED]
    assert [s.finalised for s in steps] == [False, False, False, True]
    assert (mt.reason, mt.final_at_ms, mt.parts[0].operator_id, mt.parts[0].progress) == (
        "DELIVRD err:000",
        4,
        "m1",
        D.ENROUTE,
    )


@pytest.mark.parametrize(
    ("status", "final"), [(D.UNDELIVERED, S.UNDELIVERED), (D.EXPIRED, S.EXPIRED), (D.REJECTED, S.REJECTED)]
)
def test_failed_receipts(status: DlrStatus, final: MtState) -> None:
    mt, _ = run(fresh(), HandedToLink(1), ok(0, "m1"), dlr("m1", status))
    assert mt.state is final


def test_submit_refused() -> None:
    mt, steps = run(fresh(), HandedToLink(1), SubmitRejected(0, "0x0000000B", 2))
    assert (mt.state, mt.reason, steps[-1].finalised) == (S.REJECTED, "submit refused: 0x0000000B", True)


def test_final_state_never_changes() -> None:
    mt, _ = run(fresh(), HandedToLink(1), ok(0, "m1"), dlr("m1", D.DELIVERED))
    later = [
        dlr("m1", D.ENROUTE),  # a late intermediate: ignored, reported as late
        dlr("m1", D.DELIVERED),  # the same final again
        dlr("m1", D.UNDELIVERED),  # another final: a conflict
        ok(0, "m1"),
        ok(0, "m2"),
        SubmitRejected(0, "8", 5),
        HandedToLink(5),
        ExpiryDue(WAIT_MS),
        dlr("zz", D.DELIVERED),
        ok(3, "m3"),
    ]
    after, steps = run(mt, *later)
    assert after == mt
    assert outcomes(steps) == [
        Outcome.LATE,
        Outcome.DUPLICATE,
        Outcome.CONFLICT,
        Outcome.DUPLICATE,
        Outcome.CONFLICT,
        Outcome.CONFLICT,
        Outcome.DUPLICATE,
        Outcome.LATE,
        Outcome.UNKNOWN_ID,
        Outcome.BAD_PART,
    ]
    assert not any(s.finalised for s in steps)


def test_receipt_before_submit_response() -> None:
    """The receipt is parked, then applied the moment the submit response links its id."""
    mt, steps = run(
        fresh(), HandedToLink(1), dlr("m1", D.ENROUTE), dlr("m1", D.DELIVERED), dlr("m1", D.ENROUTE)
    )
    assert outcomes(steps) == [Outcome.APPLIED, Outcome.PARKED, Outcome.PARKED, Outcome.LATE]
    assert mt.state is S.SENT and len(mt.parked) == 1
    step = apply(mt, ok(0, "m1"))
    assert (step.outcome, step.mt.state, step.finalised, step.mt.parked) == (
        Outcome.APPLIED,
        S.DELIVERED,
        True,
        (),
    )


def test_submit_response_before_handed_to_link() -> None:
    """Queues reorder: a submit response proves the MT was sent."""
    mt, steps = run(fresh(), ok(0, "m1"), HandedToLink(1))
    assert mt.state is S.ACCEPTED
    assert outcomes(steps) == [Outcome.APPLIED, Outcome.DUPLICATE]


def test_expiry() -> None:
    mt, steps = run(fresh(), HandedToLink(1), ok(0, "m1"), ExpiryDue(WAIT_MS - 1), ExpiryDue(WAIT_MS))
    assert outcomes(steps)[-2:] == [Outcome.NOT_DUE, Outcome.APPLIED]
    assert (mt.state, mt.reason, steps[-1].finalised) == (
        S.EXPIRED,
        "no final receipt before the deadline",
        True,
    )
    # a delivered receipt after the expiry is late: the charge was voided, we do not revive it
    assert apply(mt, dlr("m1", D.DELIVERED)).outcome is Outcome.LATE
    assert apply(mt, dlr("m1", D.EXPIRED)).outcome is Outcome.LATE


def test_lost_submit_response_expires() -> None:
    mt, _ = run(fresh(), HandedToLink(1), dlr("m1", D.DELIVERED), ExpiryDue(WAIT_MS))
    assert (mt.state, mt.reason, mt.parked) == (S.EXPIRED, "no submit response before the deadline", ())


def test_never_sent_expires() -> None:
    mt, _ = run(fresh(), ExpiryDue(WAIT_MS))
    assert mt.state is S.EXPIRED


def test_refusals_leave_the_record_alone() -> None:
    mt, _ = run(fresh(), HandedToLink(1), ok(0, "m1"))
    for e, outcome in [
        (ok(1, "m2"), Outcome.BAD_PART),
        (SubmitRejected(-1, "x", 1), Outcome.BAD_PART),
        (ok(0, "other"), Outcome.CONFLICT),
        (SubmitRejected(0, "0x45", 3), Outcome.CONFLICT),
        (dlr("other", D.DELIVERED), Outcome.UNKNOWN_ID),  # nothing awaits an id
        (dlr("m1", D.ENROUTE), Outcome.APPLIED),
    ]:
        step = apply(mt, e)
        assert step.outcome is outcome, e
        assert (step.mt == mt) is (outcome is not Outcome.APPLIED)


def test_rejected_twice() -> None:
    mt, _ = run(fresh(2), SubmitRejected(0, "0x45", 1))
    assert apply(mt, SubmitRejected(0, "0x45", 2)).outcome is Outcome.DUPLICATE
    assert apply(mt, SubmitRejected(0, "0x58", 2)).outcome is Outcome.CONFLICT
    assert apply(mt, ok(0, "m1")).outcome is Outcome.CONFLICT


def test_correlation_with_a_link_id_format() -> None:
    """The bridge keys the submit response and the receipt with the link's setting; they meet."""
    fmt = IdFormat.HEX_TO_DEC
    mt, _ = run(
        fresh(),
        SubmitAccepted(0, "1A2B3C", submit_id_key("1A2B3C", fmt), 1),
        ReceiptReceived(receipt_id_key("01715004", fmt), D.DELIVERED, "DELIVRD", 2),
    )
    assert mt.state is S.DELIVERED


# --- several parts ---------------------------------------------------------------------------------


def test_all_parts_delivered() -> None:
    mt, steps = run(
        fresh(3),
        HandedToLink(1),
        ok(0, "a"),
        ok(1, "b"),
        ok(2, "c"),
        dlr("a", D.DELIVERED),
        dlr("c", D.DELIVERED),
    )
    assert mt.state is S.ACCEPTED and not any(s.finalised for s in steps)
    step = apply(mt, dlr("b", D.DELIVERED))
    assert (step.mt.state, step.finalised) == (S.DELIVERED, True)


def test_sent_until_every_part_has_its_response() -> None:
    mt, _ = run(fresh(2), HandedToLink(1), ok(1, "b"))
    assert mt.state is S.SENT
    mt, _ = run(mt, ok(0, "a"))
    assert mt.state is S.ACCEPTED


def test_one_failed_part_fails_the_message() -> None:
    mt, _ = run(
        fresh(2), HandedToLink(1), ok(0, "a"), ok(1, "b"), dlr("a", D.UNDELIVERED, reason="UNDELIV err:001")
    )
    assert mt.state is S.ACCEPTED  # not final until every part has said
    mt, _ = run(mt, dlr("b", D.DELIVERED))
    assert (mt.state, mt.reason) == (S.UNDELIVERED, "UNDELIV err:001")


@pytest.mark.parametrize(
    ("finals", "state"),
    [
        ((D.DELIVERED, D.EXPIRED, D.DELIVERED), S.EXPIRED),
        ((D.EXPIRED, D.UNDELIVERED, D.DELIVERED), S.UNDELIVERED),
        ((D.UNDELIVERED, D.REJECTED, D.EXPIRED), S.REJECTED),
        ((D.REJECTED, D.REJECTED, D.DELIVERED), S.REJECTED),
    ],
)
def test_the_worst_part_decides(finals: tuple[DlrStatus, ...], state: MtState) -> None:
    keys = ["a", "b", "c"]
    mt, _ = run(
        fresh(3),
        *(ok(i, k) for i, k in enumerate(keys)),
        *(dlr(k, s) for k, s in zip(keys, finals, strict=True)),
    )
    assert mt.state is state


def test_refused_part_and_delivered_part() -> None:
    mt, _ = run(fresh(2), HandedToLink(1), ok(0, "a"), SubmitRejected(1, "0x45", 2))
    assert mt.state is S.ACCEPTED
    mt, _ = run(mt, dlr("a", D.DELIVERED))
    assert (mt.state, mt.reason) == (S.REJECTED, "submit refused: 0x45")


def test_first_part_only_receipts_like_kannel() -> None:
    """Only part 1 asked for a receipt: the others are settled by their submit response."""
    mt = fresh(3, ReceiptParts.FIRST)
    assert [p.tracked for p in mt.parts] == [True, False, False]
    mt, _ = run(mt, HandedToLink(1), ok(0, "a"), ok(1, "b"), dlr("a", D.DELIVERED))
    assert mt.state is S.SENT  # part 3 has no submit response yet
    mt, steps = run(mt, ok(2, "c"))
    assert (mt.state, steps[-1].finalised) == (S.DELIVERED, True)


def test_first_part_only_failure_and_refusal() -> None:
    mt, _ = run(fresh(2, ReceiptParts.FIRST), ok(0, "a"), ok(1, "b"), dlr("a", D.UNDELIVERED))
    assert mt.state is S.UNDELIVERED
    mt, _ = run(fresh(2, ReceiptParts.FIRST), ok(0, "a"), SubmitRejected(1, "0x14", 2), dlr("a", D.DELIVERED))
    assert mt.state is S.REJECTED


def test_an_unrequested_receipt_does_not_decide() -> None:
    """A receipt for a part that asked none is noted on the part; the tracked part decides."""
    mt, steps = run(
        fresh(2, ReceiptParts.FIRST), ok(0, "a"), ok(1, "b"), dlr("b", D.UNDELIVERED), dlr("a", D.DELIVERED)
    )
    assert outcomes(steps)[2] is Outcome.APPLIED
    assert (mt.state, mt.parts[1].state) == (S.DELIVERED, S.UNDELIVERED)


def test_first_part_only_expiry_waits_for_the_tracked_part() -> None:
    mt, _ = run(fresh(2, ReceiptParts.FIRST), ok(0, "a"), ok(1, "b"), ExpiryDue(WAIT_MS))
    assert (mt.state, [p.state for p in mt.parts]) == (S.EXPIRED, [S.EXPIRED, S.ACCEPTED])


def test_parked_receipts_are_bounded() -> None:
    mt, steps = run(fresh(2), dlr("x", D.DELIVERED), dlr("y", D.DELIVERED), dlr("z", D.DELIVERED))
    assert outcomes(steps) == [Outcome.PARKED, Outcome.PARKED, Outcome.UNKNOWN_ID]
    assert len(mt.parked) == 2


def test_one_id_for_two_parts_is_a_conflict() -> None:
    mt, _ = run(fresh(2), ok(0, "a"))
    assert apply(mt, ok(1, "a")).outcome is Outcome.CONFLICT


@pytest.mark.parametrize(
    "bad", [dict(parts_count=0), dict(parts_count=256), dict(final_wait_ms=0), dict(message_id="")]
)
def test_new_mt_validates(bad: dict[str, object]) -> None:
    args: dict[str, object] = dict(message_id="m", parts_count=1, now_ms=0, final_wait_ms=1) | bad
    with pytest.raises(ValueError):
        new_mt(**args)  # type: ignore[arg-type]


# --- billing and partner reporting -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "state", "action"),
    [
        (BillingModel.MT, S.DELIVERED, BillingAction.POST_PENDING),
        (BillingModel.MT, S.UNDELIVERED, BillingAction.VOID_PENDING),
        (BillingModel.MT, S.EXPIRED, BillingAction.VOID_PENDING),
        (BillingModel.MT, S.REJECTED, BillingAction.VOID_PENDING),
        (BillingModel.MT, S.QUEUED, BillingAction.NONE),
        (BillingModel.MT, S.SENT, BillingAction.NONE),
        (BillingModel.MT, S.ACCEPTED, BillingAction.NONE),
        *((BillingModel.MO, s, BillingAction.NONE) for s in S),
    ],
)
def test_billing_action(model: BillingModel, state: MtState, action: BillingAction) -> None:
    assert billing_action(model, state) is action


def test_partner_status() -> None:
    assert [partner_status(s) for s in S] == [
        None,
        None,
        D.ACCEPTED,
        D.DELIVERED,
        D.UNDELIVERED,
        D.EXPIRED,
        D.REJECTED,
    ]

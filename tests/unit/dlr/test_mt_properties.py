"""The MT lifecycle by property: any order, any duplicates, receipts before responses.

Promises checked: a final state once reached never changes; the final state is the one the
in-order run gives and the one an independent oracle computes from the plan; ``finalised`` fires
exactly once; refusals change nothing; parked receipts stay bounded. Hypothesis prints the failing
plan and event order; ``--hypothesis-show-statistics`` shows what was covered.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import event, given, note, settings
from hypothesis import strategies as st

from smsbilling.domain.dlr import DlrStatus
from smsbilling.domain.mt import (
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
    apply,
    new_mt,
)

WAIT_MS = 1_000_000
INTERMEDIATE = [DlrStatus.ACCEPTED, DlrStatus.ENROUTE, DlrStatus.UNKNOWN]
FINAL = [DlrStatus.DELIVERED, DlrStatus.UNDELIVERED, DlrStatus.EXPIRED, DlrStatus.REJECTED]
WORST_FIRST = [MtState.REJECTED, MtState.UNDELIVERED, MtState.EXPIRED, MtState.DELIVERED]


@dataclass(frozen=True)
class Fate:
    kind: str  # "accepted", "rejected", "lost" (the submit response never comes)
    intermediates: tuple[DlrStatus, ...] = ()
    final: DlrStatus | None = None
    error: str = ""


@dataclass(frozen=True)
class Plan:
    receipt_parts: ReceiptParts
    fates: tuple[Fate, ...]
    expiry: bool

    def tracked(self, index: int) -> bool:
        return self.receipt_parts is ReceiptParts.ALL or index == 0


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    receipt_parts = draw(st.sampled_from(list(ReceiptParts)))
    count = draw(st.integers(1, 4))
    fates = []
    for index in range(count):
        kind = draw(st.sampled_from(["accepted"] * 8 + ["rejected", "lost"]))
        tracked = receipt_parts is ReceiptParts.ALL or index == 0
        if kind == "rejected":
            fates.append(Fate(kind, error=draw(st.sampled_from(["0x45", "0x0B", "300"]))))
            continue
        receipts = kind == "lost" or tracked  # a lost part's receipt arrives but can never be linked
        inter = (
            tuple(draw(st.lists(st.sampled_from(INTERMEDIATE), max_size=2, unique=True))) if receipts else ()
        )
        final = draw(st.sampled_from([None, *FINAL, *[DlrStatus.DELIVERED] * 4])) if receipts else None
        fates.append(Fate(kind, inter, final))
    return Plan(receipt_parts, tuple(fates), draw(st.booleans()))


def key(index: int) -> str:
    return f"op-{index}"


def in_order(plan: Plan) -> list[MtEvent]:
    events: list[MtEvent] = [HandedToLink(1)]
    for i, fate in enumerate(plan.fates):
        if fate.kind == "rejected":
            events.append(SubmitRejected(i, fate.error, 2))
            continue
        if fate.kind == "accepted":
            events.append(SubmitAccepted(i, key(i), key(i), 2))
        events += [ReceiptReceived(key(i), s, s.value, 3) for s in fate.intermediates]
        if fate.final is not None:
            events.append(ReceiptReceived(key(i), fate.final, fate.final.value, 4))
    return events


def oracle(plan: Plan) -> MtState:
    """The expected MT state, computed from the plan alone."""
    verdicts: list[MtState | None] = []
    for i, fate in enumerate(plan.fates):
        if fate.kind == "rejected":
            verdicts.append(MtState.REJECTED)
        elif fate.kind == "accepted" and not plan.tracked(i):
            verdicts.append(MtState.DELIVERED)  # follows the tracked part
        elif fate.kind == "accepted" and fate.final is not None:
            verdicts.append(MtState(fate.final.value))
        else:
            verdicts.append(MtState.EXPIRED if plan.expiry else None)
    if None in verdicts:
        lost = any(f.kind == "lost" for f in plan.fates)
        return MtState.SENT if lost else MtState.ACCEPTED
    return next(s for s in WORST_FIRST if s in verdicts)


def start(plan: Plan) -> Mt:
    return new_mt("mt", len(plan.fates), now_ms=0, final_wait_ms=WAIT_MS, receipt_parts=plan.receipt_parts)


def run_checked(mt: Mt, events: list[MtEvent]) -> Mt:
    finalised = 0
    for e in events:
        step = apply(mt, e)
        if mt.is_final:
            assert step.mt == mt, f"final state changed by {e}"
            assert not step.finalised
        if step.outcome in (Outcome.APPLIED, Outcome.PARKED):
            assert step.mt != mt, f"{step.outcome} without a change: {e}"
        else:
            assert step.mt == mt, f"{step.outcome} changed the record: {e}"
        assert len(step.mt.parked) <= len(step.mt.parts)
        assert step.finalised == (step.mt.is_final and not mt.is_final)
        finalised += step.finalised
        mt = step.mt
    assert finalised == int(mt.is_final)
    return mt


def summary(mt: Mt) -> tuple[object, ...]:
    return mt.state, mt.reason, tuple((p.state, p.operator_id, p.reason) for p in mt.parts)


def expiry(plan: Plan) -> list[MtEvent]:
    return [ExpiryDue(WAIT_MS)] if plan.expiry else []


@settings(max_examples=400)
@given(plans(), st.data())
def test_any_order_with_duplicates_ends_as_in_order(plan: Plan, data: st.DataObject) -> None:
    ordered = in_order(plan)
    expected = run_checked(start(plan), ordered + expiry(plan))
    assert expected.state is oracle(plan)

    repeats = data.draw(st.lists(st.sampled_from(ordered), max_size=6), label="duplicates")
    shuffled = data.draw(st.permutations(ordered + repeats), label="order")
    note(f"plan={plan}")
    got = run_checked(start(plan), shuffled + expiry(plan))
    assert summary(got) == summary(expected)
    event(f"final={got.state.value}" if got.is_final else "not final")
    event(f"parts={len(plan.fates)} receipts={plan.receipt_parts.value}")


@settings(max_examples=300)
@given(plans())
def test_receipts_before_every_submit_response(plan: Plan) -> None:
    ordered = in_order(plan)
    receipts_first = sorted(ordered, key=lambda e: 0 if isinstance(e, ReceiptReceived) else 1)
    expected = run_checked(start(plan), ordered + expiry(plan))
    got = run_checked(start(plan), receipts_first + expiry(plan))
    assert summary(got) == summary(expected)
    event("parked then applied" if any(isinstance(e, ReceiptReceived) for e in ordered) else "no receipts")


# --- any event soup: nothing escapes, finals stay final --------------------------------------------------

keys = st.sampled_from(["op-0", "op-1", "op-2", "x"])
soup_events: st.SearchStrategy[MtEvent] = st.one_of(
    st.builds(HandedToLink, st.integers(0, WAIT_MS)),
    st.builds(SubmitAccepted, st.integers(-1, 3), keys, keys, st.integers(0, WAIT_MS)),
    st.builds(SubmitRejected, st.integers(-1, 3), st.sampled_from(["0x45", "8"]), st.integers(0, WAIT_MS)),
    st.builds(ReceiptReceived, keys, st.sampled_from(list(DlrStatus)), st.just("r"), st.integers(0, WAIT_MS)),
    st.builds(ExpiryDue, st.integers(0, 2 * WAIT_MS)),
)


@settings(max_examples=400)
@given(st.integers(1, 3), st.sampled_from(list(ReceiptParts)), st.lists(soup_events, max_size=40))
def test_event_soup(parts: int, receipt_parts: ReceiptParts, events: list[MtEvent]) -> None:
    mt = new_mt("mt", parts, now_ms=0, final_wait_ms=WAIT_MS, receipt_parts=receipt_parts)
    mt = run_checked(mt, events)
    if mt.is_final:
        assert mt.parked == ()
        assert all(p.settled for p in mt.parts)
        event(f"final={mt.state.value}")
    # the expiry always ends it
    end = apply(mt, ExpiryDue(WAIT_MS)).mt
    assert end.is_final

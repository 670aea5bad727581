"""Hypothesis strategies for UCP operations and results, derived from the layouts themselves."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from hypothesis import strategies as st

from smpp_bridge.ucp import Ack, Message, Nack, Operation, XSer, encode
from smpp_bridge.ucp import constants as c
from smpp_bridge.ucp.operations import (
    DIGITS,
    HEX_TEXT,
    MSG,
    MT,
    NB,
    OADC,
    OPERATION_CLASSES,
    TEXT,
    XSER,
    FieldSpec,
    Message50,
)

printable = st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters="/")
latin1 = st.characters(min_codepoint=0, max_codepoint=0xFF)
trns = st.integers(0, c.TRN_MAX)


def digits(size: int, exact: bool) -> st.SearchStrategy[str]:
    if exact:
        return st.one_of(st.just(""), st.text("0123456789", min_size=size, max_size=size))
    return st.text("0123456789", max_size=size)


def _field(spec: FieldSpec) -> st.SearchStrategy[Any]:
    name, kind, size, exact, _ = spec
    if kind == DIGITS:
        return digits(size, exact)
    if kind == TEXT:
        return st.text(printable, max_size=min(size, 24))
    if kind == HEX_TEXT:
        return st.text(latin1, max_size=size // 2)
    if kind == XSER:
        entry = st.builds(XSer, st.integers(0, 0xFF), st.binary(max_size=12))
        return st.lists(entry, max_size=4).map(tuple)
    raise AssertionError(f"{name} is built by the composite")


@st.composite
def _message_fields(draw: st.DrawFn, cls: type[Operation]) -> dict[str, Any]:
    series50 = issubclass(cls, Message50)
    values: dict[str, Any] = {}
    for spec in cls.layout:
        if spec[1] not in (OADC, MT, NB, MSG):
            values[spec[0]] = draw(_field(spec))
    if series50:
        values["otoa"] = draw(st.sampled_from(["", c.OTOA_INTERNATIONAL, c.OTOA_ALPHANUMERIC]))
        if values["otoa"] == c.OTOA_ALPHANUMERIC:
            values["oadc"] = draw(st.binary(max_size=11).map(lambda b: b.hex().upper()))
        else:
            values["oadc"] = draw(digits(16, False))
    if "mt" not in {spec[0] for spec in cls.layout}:
        return values
    mts = [None, c.MT_NUMERIC, c.MT_ALPHANUMERIC, c.MT_TRANSPARENT] if series50 else [2, 3]
    mt = draw(st.sampled_from(mts))
    values["mt"] = mt
    if mt is None:
        msg = b""
    elif mt == c.MT_NUMERIC:
        msg = draw(digits(40, False)).encode()
    else:
        msg = draw(st.binary(max_size=80))
    values["msg"] = msg
    if series50:
        values["nb"] = None
        if mt == c.MT_TRANSPARENT:
            values["nb"] = max(0, 8 * len(msg) - draw(st.integers(0, 7))) if msg else 0
    return values


def operation(cls: type[Operation]) -> st.SearchStrategy[Operation]:
    return st.builds(lambda trn, values: cls(trn=trn, **values), trns, _message_fields(cls))


any_operation: st.SearchStrategy[Operation] = st.one_of(
    [operation(cls) for cls in OPERATION_CLASSES.values()]
)
ots = st.sampled_from(sorted(OPERATION_CLASSES))


@st.composite
def _ack(draw: st.DrawFn) -> Ack:
    ot = draw(ots)
    mvp = draw(digits(10, False)) if ot in c.SERIES_50 else ""
    return Ack(ot, draw(trns), draw(st.text(printable, max_size=30)), mvp)


nacks = st.builds(Nack, ots, trns, st.integers(0, 999), st.text(printable, max_size=30))
any_result: st.SearchStrategy[Ack | Nack] = st.one_of(_ack(), nacks)
any_message: st.SearchStrategy[Message] = st.one_of(any_operation, any_result)


@st.composite
def mutated_frame(draw: st.DrawFn) -> bytes:
    """A valid frame with a few octets flipped, inserted, deleted or truncated."""
    data = bytearray(encode(draw(any_message)))
    for _ in range(draw(st.integers(1, 3))):
        action = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "slash"]))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if action == "flip" and data:
            data[pos] = draw(st.integers(0, 0xFF))
        elif action == "insert":
            data.insert(pos, draw(st.sampled_from([0x02, 0x03, 0x2F, 0x30, 0x41, 0xFF])))
        elif action == "delete" and data:
            del data[pos]
        elif action == "truncate":
            del data[pos:]
        elif action == "slash" and data:
            data[pos] = 0x2F
    return bytes(data)


def field_names(cls: type[Operation]) -> list[str]:
    return [f.name for f in fields(cls) if f.name != "trn"]

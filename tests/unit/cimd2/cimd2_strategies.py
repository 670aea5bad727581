"""Hypothesis strategies for CIMD2 packets, derived from the parameter layouts themselves."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from hypothesis import strategies as st

from smpp_bridge.cimd2 import Packet, Response, encode
from smpp_bridge.cimd2 import constants as c
from smpp_bridge.cimd2.packets import (
    ADDRESS,
    HEX,
    INT,
    REQUEST_CLASSES,
    RESPONSE_LAYOUT,
    RESPONSE_OPCODES,
    STRING,
    SUBMIT_RESPONSE_LAYOUT,
    TIME,
    USER_DATA,
    Layout,
    ParamSpec,
)

printable = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
wire_octet = st.characters(min_codepoint=1, max_codepoint=0xFF, exclude_characters="\x02\x03\t")
numbers = st.integers(0, c.NUMBER_MAX)


def _value(spec: ParamSpec) -> st.SearchStrategy[Any]:
    _, _, kind, size, low, high, _ = spec
    if kind == INT:
        return st.integers(low, high)
    if kind == STRING:
        return st.text(printable, max_size=min(size, 20))
    if kind == ADDRESS:
        return st.builds(
            lambda plus, digits: plus + digits,
            st.sampled_from(["", "+"]),
            st.text("0123456789", max_size=size - 1),
        )
    if kind == TIME:
        return st.text("0123456789", min_size=12, max_size=12)
    if kind == HEX:
        return st.binary(max_size=min(size // 2, 40))
    if kind == USER_DATA:
        return st.text(wire_octet, max_size=60)
    raise AssertionError(kind)


def _extra(layout: Layout) -> st.SearchStrategy[tuple[tuple[int, str], ...]]:
    typed = {spec[1] for spec in layout}
    number = st.integers(0, 999).filter(lambda n: n not in typed)
    return st.lists(st.tuples(number, st.text(wire_octet, max_size=12)), max_size=3).map(tuple)


@st.composite
def _params(draw: st.DrawFn, layout: Layout) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for spec in layout:
        values[spec[0]] = draw(st.one_of(st.none(), _value(spec)))
    if values.get("user_data") is not None and values.get("user_data_binary") is not None:
        values[draw(st.sampled_from(["user_data", "user_data_binary"]))] = None
    values["extra"] = draw(_extra(layout))
    return values


def request(cls: type[Packet]) -> st.SearchStrategy[Packet]:
    return st.builds(lambda number, values: cls(number=number, **values), numbers, _params(cls.layout))


@st.composite
def response(draw: st.DrawFn) -> Response:
    opcode = draw(st.sampled_from(sorted(RESPONSE_OPCODES)))
    layout = SUBMIT_RESPONSE_LAYOUT if opcode == c.SUBMIT_MESSAGE + c.RESPONSE_OFFSET else RESPONSE_LAYOUT
    return Response(opcode, draw(numbers), **draw(_params(layout)))


any_request: st.SearchStrategy[Packet] = st.one_of([request(cls) for cls in REQUEST_CLASSES.values()])
any_packet: st.SearchStrategy[Packet | Response] = st.one_of(any_request, response())


@st.composite
def encoded(draw: st.DrawFn) -> bytes:
    return encode(draw(any_packet), with_checksum=draw(st.booleans()))


@st.composite
def mutated_packet(draw: st.DrawFn) -> bytes:
    """A valid packet with a few octets flipped, inserted, deleted or truncated."""
    data = bytearray(draw(encoded()))
    for _ in range(draw(st.integers(1, 3))):
        action = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "tab"]))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if action == "flip" and data:
            data[pos] = draw(st.integers(0, 0xFF))
        elif action == "insert":
            data.insert(pos, draw(st.sampled_from([0x00, 0x02, 0x03, 0x09, 0x3A, 0x30, 0x5F])))
        elif action == "delete" and data:
            del data[pos]
        elif action == "truncate":
            del data[pos:]
        elif action == "tab" and data:
            data[pos] = 0x09
    return bytes(data)


def field_names(cls: type[Packet]) -> list[str]:
    return [f.name for f in fields(cls) if f.name not in ("number", "extra")]

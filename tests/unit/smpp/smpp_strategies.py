"""Hypothesis strategies for SMPP PDUs, derived from the PDU layouts themselves."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from smpp_bridge.smpp import Pdu, Tlv, encode_pdu
from smpp_bridge.smpp.pdus import (
    CSTR,
    DEST_ADDRESSES,
    PDU_CLASSES,
    SHORT_MESSAGE,
    U8,
    UNSUCCESS_SMES,
    DistributionList,
    FieldSpec,
    SmeAddress,
    UnsuccessSme,
)
from smpp_bridge.smpp.tlv import KNOWN_TLVS, TlvDef

ALL_CLASSES: list[type[Pdu]] = list(PDU_CLASSES.values())

latin1 = st.characters(min_codepoint=1, max_codepoint=255)
u8 = st.integers(0, 0xFF)
u32 = st.integers(0, 0xFFFFFFFF)


def cstr(size: int) -> st.SearchStrategy[str]:
    return st.text(latin1, max_size=size - 1)


def _known_tlv(spec: TlvDef[Any]) -> st.SearchStrategy[Tlv]:
    if spec.kind is int:
        values: st.SearchStrategy[Any] = st.integers(0, 2 ** (8 * spec.size) - 1)
    elif spec.kind is str:
        values = cstr(spec.size)
    else:
        values = st.binary(max_size=min(spec.size, 300))
    return values.map(lambda v: Tlv(spec.tag, v))


unknown_tlv = st.builds(
    Tlv,
    st.integers(0, 0xFFFF).filter(lambda t: t not in KNOWN_TLVS),
    st.binary(max_size=40),
)
any_tlv = st.one_of(unknown_tlv, *[_known_tlv(spec) for spec in KNOWN_TLVS.values()])
tlv_tuples = st.lists(any_tlv, max_size=4).map(tuple)

dest_address = st.one_of(
    st.builds(SmeAddress, u8, u8, cstr(21)),
    st.builds(DistributionList, cstr(21)),
)
unsuccess_sme = st.builds(UnsuccessSme, u8, u8, cstr(21), u32)


def field_values(spec: FieldSpec) -> st.SearchStrategy[Any]:
    _, kind, size, _ = spec
    if kind == U8:
        return u8
    if kind == CSTR:
        return cstr(size)
    if kind == SHORT_MESSAGE:
        return st.binary(max_size=size)
    if kind == DEST_ADDRESSES:
        return st.lists(dest_address, max_size=5).map(tuple)
    assert kind == UNSUCCESS_SMES
    return st.lists(unsuccess_sme, max_size=5).map(tuple)


def pdus_of(cls: type[Pdu]) -> st.SearchStrategy[Pdu]:
    parts = [u32, u32, *(field_values(spec) for spec in cls.layout), tlv_tuples]
    return st.tuples(*parts).map(lambda values: cls(*values))


any_pdu = st.sampled_from(ALL_CLASSES).flatmap(pdus_of)


@st.composite
def mutated_pdu_bytes(draw: st.DrawFn) -> bytes:
    """A valid PDU's bytes with a few random edits; often with a fixed-up command_length."""
    data = bytearray(encode_pdu(draw(any_pdu)))
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["flip", "cut", "insert", "zero"]))
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        if action == "flip":
            data[at] ^= draw(st.integers(1, 255))
        elif action == "cut":
            del data[at : at + draw(st.integers(1, 8))]
        elif action == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        else:
            data[at] = 0
    if draw(st.booleans()) and len(data) >= 4:
        data[0:4] = len(data).to_bytes(4, "big")
    return bytes(data)

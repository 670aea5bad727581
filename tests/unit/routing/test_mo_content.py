"""domain/mo_content.py: reading one received MO, and joining the parts of a long one."""

from __future__ import annotations

import pytest

from smsbilling.domain.concat import ConcatInfo, build_udh
from smsbilling.domain.mo_content import Part, concat_set_key, join, part_of
from smsbilling.domain.text import TextError, gsm7_encode


def read(**fields: object) -> Part:
    values: dict[str, object] = {
        "text": "",
        "payload_hex": None,
        "data_coding": None,
        "udh_hex": None,
        "sar_ref": None,
        "sar_total": None,
        "sar_seq": None,
    } | fields
    return part_of(**values)  # type: ignore[arg-type]


def test_plain_text_is_a_whole_message() -> None:
    part = read(text="ABC 1")
    assert part.concat is None and part.decoded() == "ABC 1"


def test_payload_without_data_coding_is_gsm_default_alphabet() -> None:
    assert read(payload_hex=gsm7_encode("[x]").hex()).decoded() == "[x]"


def test_invalid_octets_become_replacement_characters_not_errors() -> None:
    assert read(payload_hex="0041d800", data_coding=8).decoded() == "A\ufffd"


def test_udh_and_sar_give_the_place_in_the_long_message() -> None:
    udh = read(text="a", udh_hex=build_udh(ConcatInfo(200, 3, 2), ref_16bit=True).hex())
    sar = read(text="a", sar_ref=7, sar_total=4, sar_seq=4)
    assert udh.concat == ConcatInfo(200, 3, 2) and sar.concat == ConcatInfo(7, 4, 4)


def test_a_sar_one_of_one_and_a_udh_without_concat_are_whole_messages() -> None:
    assert read(text="a", sar_ref=1, sar_total=1, sar_seq=1).concat is None
    assert read(text="a", udh_hex="0605040b8423f0").concat is None  # port addressing only


@pytest.mark.parametrize(
    "fields",
    [
        {"udh_hex": "050003010201ff"},  # octets after the header
        {"udh_hex": "050003010101"},  # a "1 of 1" concat UDH
        {"sar_ref": 1, "sar_total": 2, "sar_seq": 3},
        {"sar_seq": 1},
        {"payload_hex": "00", "data_coding": 0xF4},  # 8-bit binary by GSM DCS
    ],
)
def test_what_cannot_be_text_raises_text_error(fields: dict[str, object]) -> None:
    with pytest.raises(TextError):
        read(text="x", **fields)


def test_raw_parts_are_joined_before_decoding_so_split_escapes_survive() -> None:
    data = gsm7_encode("price 5\u20ac")  # the euro sign is ESC + 0x65
    cut = data.index(0x1B) + 1  # the escape pair split across the two parts
    parts = [Part(ConcatInfo(1, 2, n), payload=chunk) for n, chunk in ((1, data[:cut]), (2, data[cut:]))]
    assert join(parts) == "price 5\u20ac"


def test_utf16_surrogate_pair_split_across_parts() -> None:
    data = "hi \U0001f600".encode("utf-16-be")
    parts = [Part(None, payload=data[:5], data_coding=8), Part(None, payload=data[5:], data_coding=8)]
    assert join(parts) == "hi \U0001f600"


def test_mixed_parts_are_decoded_one_by_one() -> None:
    parts = [Part(None, text="ab"), Part(None, payload="cd".encode("latin-1"), data_coding=3)]
    assert join(parts) == "abcd"


def test_set_key() -> None:
    assert concat_set_key("l1", "447700900123", ConcatInfo(9, 3, 1)) == "CONCAT#l1#447700900123#9#3"

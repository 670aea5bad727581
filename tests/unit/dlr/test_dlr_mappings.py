"""Worked examples for every protocol's DLR table, and the tables we write back to partners."""

from __future__ import annotations

import pytest

from smsbilling.domain.dlr import (
    CIMD2_STATUS,
    KANNEL_DLR_TYPE,
    MESSAGE_STATE_FOR,
    SMPP_MESSAGE_STATE,
    SMPP_STAT_WORDS,
    STAT_WORD_FOR,
    UCP_DST,
    DlrStatus,
    status_from_cimd2,
    status_from_kannel_type,
    status_from_message_state,
    status_from_stat,
    status_from_ucp_dst,
)

S = DlrStatus


def test_final_and_intermediate_split() -> None:
    assert {s for s in S if s.is_final} == {S.DELIVERED, S.UNDELIVERED, S.EXPIRED, S.REJECTED}
    assert {s for s in S if not s.is_final} == {S.ACCEPTED, S.ENROUTE, S.UNKNOWN}


@pytest.mark.parametrize(
    ("value", "status"),
    [
        (0, S.ENROUTE),  # SCHEDULED, 5.0
        (1, S.ENROUTE),
        (2, S.DELIVERED),
        (3, S.EXPIRED),
        (4, S.UNDELIVERED),  # DELETED
        (5, S.UNDELIVERED),  # UNDELIVERABLE
        (6, S.ACCEPTED),
        (7, S.UNKNOWN),
        (8, S.REJECTED),
        (9, S.UNDELIVERED),  # SKIPPED, 5.0
        (10, S.UNKNOWN),
        (255, S.UNKNOWN),
        (-1, S.UNKNOWN),
        (None, S.UNKNOWN),
    ],
)
def test_smpp_message_state(value: int | None, status: DlrStatus) -> None:
    assert status_from_message_state(value) is status


@pytest.mark.parametrize(
    ("word", "status"),
    [
        ("DELIVRD", S.DELIVERED),
        ("EXPIRED", S.EXPIRED),
        ("DELETED", S.UNDELIVERED),
        ("UNDELIV", S.UNDELIVERED),
        ("ACCEPTD", S.ACCEPTED),
        ("UNKNOWN", S.UNKNOWN),
        ("REJECTD", S.REJECTED),
        ("ENROUTE", S.ENROUTE),
        ("ACKED", S.ACCEPTED),
        ("BUFFRED", S.ENROUTE),
        ("BUFFERD", S.ENROUTE),
        ("delivrd", S.DELIVERED),  # case does not matter
        (" Undeliv ", S.UNDELIVERED),
        ("UNDELIVERABLE", S.UNDELIVERED),
        ("SKIPPED", S.UNDELIVERED),
        ("FAILED", S.UNKNOWN),  # a word we do not know finalises nothing
        ("", S.UNKNOWN),
        (None, S.UNKNOWN),
    ],
)
def test_smpp_stat_words(word: str | None, status: DlrStatus) -> None:
    assert status_from_stat(word) is status


@pytest.mark.parametrize(
    ("value", "status"),
    [
        (0, S.DELIVERED),
        ("0", S.DELIVERED),
        ("1", S.ENROUTE),
        (2, S.UNDELIVERED),
        ("3", S.UNKNOWN),
        ("", S.UNKNOWN),
        ("x", S.UNKNOWN),
    ],
)
def test_ucp_dst(value: int | str, status: DlrStatus) -> None:
    assert status_from_ucp_dst(value) is status


@pytest.mark.parametrize(
    ("value", "status"),
    [
        ("1", S.ENROUTE),  # in process
        ("2", S.EXPIRED),  # validity period expired
        ("3", S.UNDELIVERED),  # delivery failed
        ("4", S.DELIVERED),  # delivery successful (the captured Kannel exchange: 061:4 -> type=1)
        ("5", S.ENROUTE),  # no response: the SMSC retries
        ("6", S.UNDELIVERED),  # last no response
        ("7", S.UNDELIVERED),  # cancelled
        ("8", S.UNDELIVERED),  # deleted
        (9, S.UNDELIVERED),  # deleted by cancel
        ("0", S.UNKNOWN),
        ("10", S.UNKNOWN),
        ("04", S.DELIVERED),
    ],
)
def test_cimd2_status(value: int | str, status: DlrStatus) -> None:
    assert status_from_cimd2(value) is status


@pytest.mark.parametrize(
    ("value", "status"),
    [
        (1, S.DELIVERED),
        ("2", S.UNDELIVERED),
        (4, S.ENROUTE),  # buffered
        ("8", S.ACCEPTED),  # SMSC ack
        (16, S.REJECTED),  # SMSC nack
        (3, S.UNKNOWN),  # a mask, not a type
        (32, S.UNKNOWN),
        ("", S.UNKNOWN),
    ],
)
def test_kannel_dlr_type(value: int | str, status: DlrStatus) -> None:
    assert status_from_kannel_type(value) is status


def test_kannel_dlr_mask_3_and_31_cover_the_types() -> None:
    """dlr-mask 3 asks for 1|2 (the two final outcomes), 31 for every type."""
    assert {KANNEL_DLR_TYPE[t] for t in (1, 2)} == {S.DELIVERED, S.UNDELIVERED}
    assert set(KANNEL_DLR_TYPE) == {1, 2, 4, 8, 16}
    assert sum(KANNEL_DLR_TYPE) == 31


def test_every_table_maps_into_platform_states() -> None:
    for table in (SMPP_MESSAGE_STATE, SMPP_STAT_WORDS, UCP_DST, CIMD2_STATUS, KANNEL_DLR_TYPE):
        assert set(table.values()) <= set(S)
    # each protocol can say delivered, and a failure
    for table in (SMPP_MESSAGE_STATE, UCP_DST, CIMD2_STATUS, KANNEL_DLR_TYPE):
        assert S.DELIVERED in table.values()
        assert S.UNDELIVERED in table.values()


@pytest.mark.parametrize("status", list(S))
def test_what_we_write_reads_back(status: DlrStatus) -> None:
    assert status_from_stat(STAT_WORD_FOR[status]) is status
    assert status_from_message_state(MESSAGE_STATE_FOR[status]) is status


def test_written_words_are_the_3_4_appendix_b_words() -> None:
    assert set(STAT_WORD_FOR.values()) == {
        "DELIVRD",
        "EXPIRED",
        "UNDELIV",
        "ACCEPTD",
        "UNKNOWN",
        "REJECTD",
        "ENROUTE",
    }
    assert set(MESSAGE_STATE_FOR.values()) <= set(range(1, 9))  # 3.4 values only: partners bind 3.4

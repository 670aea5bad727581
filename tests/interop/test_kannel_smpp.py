"""Kannel 1.4.5 (bearerbox + smsbox from Debian) as a partner's ESME bound to the bridge (issue 6).

Kannel's ``smsc = smpp`` group binds as a transceiver to the bridge's SMPP port with an account from
the bridge's in-memory store. MTs go in through Kannel's ``sendsms``; the bridge's outbox sends MOs
and receipts back as ``deliver_sm``, which Kannel hands to its ``get-url`` and ``dlr-url`` (our
loopback HTTP sink). Each exchange is checked on both sides: what the bridge stored or counted, and
what Kannel logged on the wire (bearerbox's PDU dumps) or reported (status.txt, access log, URLs).
One bridge and one Kannel serve the module; tests tell their messages apart by their text.
What is covered and how to run it alone: docs/interop.md.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from smpp_bridge.smpp import constants as c
from smsbilling.adapters.memory_outbox import MemoryOutboxStore
from smsbilling.contracts import SendMt
from smsbilling.domain.dlr import DlrStatus
from smsbilling.domain.outbox import OutboxItem
from tests.interop.bridge_harness import PASSWORD, RunningBridge, account, running_bridge
from tests.interop.kannel import (
    HttpSink,
    Kannel,
    LoggedPdu,
    SmppBind,
    kannel_installed,
    running_kannel,
    wait_until,
)

pytestmark = [pytest.mark.interop, pytest.mark.timeout(60)]

SYSTEM_ID = "kannel"
REFUSED_SYSTEM_ID = "kannelrefused"  # its own account, so its failures lock nobody else out
SENDER, RECIPIENT = "BILLING", "447700900123"


# --------------------------------------------------------------------------- fixtures and helpers


@pytest.fixture(scope="module", autouse=True)
def kannel_required() -> None:
    if not kannel_installed():  # not a skip: `make test` installs it, and a skip would hide a gap
        pytest.fail("Kannel is not installed: run `make system-deps` (apt-get install kannel kannel-extras)")


@pytest.fixture(scope="module")
def bridge() -> Iterator[RunningBridge]:
    with running_bridge([account(SYSTEM_ID), account(REFUSED_SYSTEM_ID)]) as running:
        yield running


@pytest.fixture(scope="module")
def sink() -> Iterator[HttpSink]:
    with HttpSink() as http_sink:
        yield http_sink


@pytest.fixture(scope="module")
def kannel(
    bridge: RunningBridge, sink: HttpSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Kannel]:
    bind = SmppBind(bridge.port, SYSTEM_ID, PASSWORD, enquire_link_interval_s=1)
    with running_kannel(bind, sink, tmp_path_factory.mktemp("kannel")) as running:
        yield running


def metrics(bridge: RunningBridge) -> dict[str, Any]:
    """The bridge's counters as operations see them: GET /metrics on the health port."""
    with urllib.request.urlopen(f"http://127.0.0.1:{bridge.health_port}/metrics", timeout=5) as response:
        body: dict[str, Any] = json.load(response)
        return body


def stored(bridge: RunningBridge, predicate: Callable[[SendMt], bool]) -> list[SendMt]:
    return [mt for mt in list(bridge.sink.sent) if predicate(mt)]


def wait_stored(bridge: RunningBridge, predicate: Callable[[SendMt], bool], count: int = 1) -> list[SendMt]:
    wait_until(lambda: len(stored(bridge, predicate)) >= count, 15, f"{count} SendMt in the sink")
    return stored(bridge, predicate)


def with_payload(payload: bytes) -> Callable[[SendMt], bool]:
    return lambda mt: bytes.fromhex(mt.short_message_hex) == payload


def kannel_pdus(kannel: Kannel, type_name: str, direction: str, count: int = 1) -> list[LoggedPdu]:
    """PDUs of one type Kannel logged, waiting until there are ``count`` (the log is written async)."""
    wait_until(
        lambda: len(kannel.pdus(type_name, direction)) >= count, 10, f"{count} {direction} {type_name}"
    )
    return kannel.pdus(type_name, direction)


def answer_to(kannel: Kannel, request: LoggedPdu, direction: str) -> LoggedPdu:
    """The response to ``request`` in Kannel's log, correlated by sequence number."""
    response_type = f"{request.type_name}_resp"

    def found() -> list[LoggedPdu]:
        return [
            pdu
            for pdu in kannel.pdus(response_type, direction)
            if pdu["sequence_number"] == request["sequence_number"]
        ]

    wait_until(found, 10, f"{response_type} to sequence {request['sequence_number']!r}")
    return found()[-1]


def submitted(kannel: Kannel, payload: bytes) -> list[LoggedPdu]:
    return [pdu for pdu in kannel.pdus("submit_sm", "sent") if pdu.octets("short_message") == payload]


def outbox_pending(bridge: RunningBridge) -> list[OutboxItem]:
    store = bridge.bridge.outbox.store
    assert isinstance(store, MemoryOutboxStore)
    return store.pending(SYSTEM_ID)


def accepted(answer: tuple[int, str]) -> None:
    assert answer == (202, "0: Accepted for delivery"), answer


# --------------------------------------------------------------------------- bind


def test_kannel_binds_and_the_bridge_counts_the_bind(bridge: RunningBridge, kannel: Kannel) -> None:
    line = kannel.smsc_status()
    assert "(online" in line and f"SMPP:127.0.0.1:{bridge.port}/{bridge.port}:{SYSTEM_ID}:" in line
    [bind] = kannel_pdus(kannel, "bind_transceiver", "sent")
    assert (bind["system_id"], bind["system_type"], bind["interface_version"]) == (SYSTEM_ID, "", 0x34)
    assert answer_to(kannel, bind, "got")["command_status"] == c.ESME_ROK
    counters = metrics(bridge)
    assert counters["binds"] == 1 and counters["binds_accepted"] >= 1 and counters["open_connections"] == 1
    # Kannel keeps the bind alive with enquire_link every second; the bridge answers each one.
    [link, *_] = kannel_pdus(kannel, "enquire_link", "sent")
    assert answer_to(kannel, link, "got")["command_status"] == c.ESME_ROK
    assert kannel.is_online()


# --------------------------------------------------------------------------- MT: Kannel -> bridge


def test_mt_through_sendsms_reaches_the_sink_with_kannels_fields(
    bridge: RunningBridge, kannel: Kannel
) -> None:
    payload = b"Hello from Kannel"
    accepted(kannel.sendsms(RECIPIENT, payload.decode(), dlr_mask=3))
    [mt] = wait_stored(bridge, with_payload(payload))
    assert (mt.destination, mt.source, mt.source_ton, mt.source_npi) == (RECIPIENT, SENDER, 5, 0)
    assert mt.registered_delivery == 0x01  # dlr-mask 3 (success | failure): a final receipt
    assert (mt.esm_class, mt.data_coding) == (0x03, 0x00)
    assert (mt.channel, mt.tenant) == (f"smpp:{SYSTEM_ID}", f"owner-of-{SYSTEM_ID}")
    # Kannel's side: what it sent is what we stored, and its submit_sm_resp carried our message id.
    [submit] = submitted(kannel, payload)
    assert submit["registered_delivery"] == mt.registered_delivery
    response = answer_to(kannel, submit, "got")
    assert response["command_status"] == c.ESME_ROK
    assert response.octets("message_id") == mt.message_id.encode()
    wait_until(lambda: f"[FID:{mt.message_id}]" in kannel.log("access"), 10, "Kannel's 'Sent SMS' log line")


def test_ucs2_mt_is_utf16be_with_the_surrogate_pair(bridge: RunningBridge, kannel: Kannel) -> None:
    text = "Привет 😀"
    expected = bytes.fromhex("041f 0440 0438 0432 0435 0442 0020 d83d de00")
    assert text.encode("utf-16-be") == expected
    accepted(kannel.sendsms(RECIPIENT, text, charset="UTF-8", coding=2))
    [mt] = wait_stored(bridge, with_payload(expected))
    assert (mt.data_coding, mt.esm_class) == (0x08, 0x03)


def test_long_gsm_mt_arrives_as_two_udh_parts(bridge: RunningBridge, kannel: Kannel) -> None:
    text = ("Long message through Kannel, split in two parts by smsbox. " * 4)[:183]
    assert len(text) == 183
    accepted(kannel.sendsms(RECIPIENT, text, dlr_mask=3))
    parts = wait_stored(bridge, lambda mt: mt.esm_class & 0x40 != 0, 2)
    assert len(parts) == 2
    first_mt, second_mt = sorted(parts, key=lambda mt: bytes.fromhex(mt.short_message_hex)[5])  # UDH seq
    first, second = (bytes.fromhex(mt.short_message_hex) for mt in (first_mt, second_mt))
    ref = first[3]
    assert first[:6] == bytes([0x05, 0x00, 0x03, ref, 0x02, 0x01])
    assert second[:6] == bytes([0x05, 0x00, 0x03, ref, 0x02, 0x02])
    assert (len(first), len(second)) == (6 + 153, 6 + 30)
    assert first[6:] + second[6:] == text.encode("ascii")
    assert first_mt.esm_class == second_mt.esm_class == 0x43
    assert first_mt.data_coding == second_mt.data_coding == 0x00
    # Kannel asks for a receipt on the first part only (protocols.md 1.1; compare Jasmin #705).
    assert (first_mt.registered_delivery, second_mt.registered_delivery) == (0x01, 0x00)


def test_a_burst_through_kannels_window_arrives_exactly_once(bridge: RunningBridge, kannel: Kannel) -> None:
    texts = [f"burst {n:02d}" for n in range(50)]  # Kannel keeps up to 10 submits outstanding
    throttled = metrics(bridge)["submits_throttled"]
    for text in texts:
        accepted(kannel.sendsms(RECIPIENT, text))
    wanted = {text.encode() for text in texts}
    mts = wait_stored(bridge, lambda mt: bytes.fromhex(mt.short_message_hex) in wanted, len(texts))
    assert sorted(bytes.fromhex(mt.short_message_hex) for mt in mts) == sorted(wanted)
    assert len({mt.message_id for mt in mts}) == len(texts)
    assert metrics(bridge)["submits_throttled"] == throttled


# --------------------------------------------------------------------------- refusals and outages


def test_wrong_password_is_refused_and_kannel_keeps_reconnecting(
    bridge: RunningBridge, kannel: Kannel, sink: HttpSink, tmp_path: Path
) -> None:
    before = metrics(bridge)
    bind = SmppBind(bridge.port, REFUSED_SYSTEM_ID, "wrongpw", smsc_id="refused", reconnect_delay_s=1)
    with running_kannel(bind, sink, tmp_path, wait_online=False) as refused:
        # ESME_RBINDFAIL is not one of the codes that make Kannel give up, so it retries every second.
        responses = kannel_pdus(refused, "bind_transceiver_resp", "got", count=2)
        assert {pdu["command_status"] for pdu in responses} == {c.ESME_RBINDFAIL}
        line = refused.smsc_status()
        assert "(online" not in line and "connecting" in line, line
        after = metrics(bridge)
    assert after["binds_refused"] >= before["binds_refused"] + 2
    assert after["binds"] == 1 and after["binds_accepted"] == before["binds_accepted"]
    assert kannel.is_online()  # the other bind is unharmed


def test_queue_outage_answers_rmsgqful_and_kannel_resends_exactly_once(
    bridge: RunningBridge, kannel: Kannel
) -> None:
    payload = b"Sent while the queue is down"
    before = metrics(bridge)["submits_failed"]
    bridge.sink.fail = True
    try:
        accepted(kannel.sendsms(RECIPIENT, payload.decode(), dlr_mask=3))
        # ESME_RMSGQFUL is temporary for Kannel: it re-queues and resends (sms-resend-freq = 1 s).
        wait_until(lambda: len(submitted(kannel, payload)) >= 2, 15, "Kannel to resend")
        for submit in submitted(kannel, payload)[:2]:
            assert answer_to(kannel, submit, "got")["command_status"] == c.ESME_RMSGQFUL
        assert stored(bridge, with_payload(payload)) == []
    finally:
        bridge.sink.fail = False
    [mt] = wait_stored(bridge, with_payload(payload))
    assert (
        answer_to(kannel, submitted(kannel, payload)[-1], "got").octets("message_id")
        == mt.message_id.encode()
    )
    time.sleep(1.5)  # longer than sms-resend-freq: a stray resend would have arrived by now
    assert len(stored(bridge, with_payload(payload))) == 1
    assert metrics(bridge)["submits_failed"] == before + len(submitted(kannel, payload)) - 1
    assert kannel.is_online()  # a temporary error never costs the bind


# --------------------------------------------------------------------------- bridge -> Kannel (outbox)


def test_mo_from_the_outbox_reaches_kannels_get_url(
    bridge: RunningBridge, kannel: Kannel, sink: HttpSink
) -> None:
    outbox = bridge.bridge.outbox
    delivered = metrics(bridge)["outbox_delivered"]
    bridge.call(outbox.put_mo(SYSTEM_ID, "447700900001", "4444", b"Hello from the bridge", 0))
    [mo] = sink.wait_for(lambda cb: cb.path == "/mo" and cb.query.get("text") == "Hello from the bridge")
    assert mo.query["from"] == "+447700900001"  # Kannel writes TON 1 (international) with a '+'
    assert mo.query["to"] == "4444"  # a short code goes out as TON 3, so Kannel adds no '+'
    assert (mo.query["smsc"], mo.query["coding"]) == ("bridge", "0")

    ucs2 = "Привет 😀".encode("utf-16-be")
    bridge.call(outbox.put_mo(SYSTEM_ID, "447700900002", "4444", ucs2, 8))
    [mo] = sink.wait_for(lambda cb: cb.path == "/mo" and cb.query.get("from") == "+447700900002")
    assert mo.query["coding"] == "2"  # Kannel's DC_UCS2
    assert mo.raw("binary") == ucs2  # passed on as it came, surrogate pair included

    for deliver in kannel.pdus("deliver_sm", "got"):
        if deliver.octets("short_message") in (b"Hello from the bridge", ucs2):
            assert answer_to(kannel, deliver, "sent")["command_status"] == c.ESME_ROK
    wait_until(lambda: metrics(bridge)["outbox_delivered"] >= delivered + 2, 10, "two deliver_sm_resp OK")
    wait_until(lambda: outbox_pending(bridge) == [], 10, "the outbox emptied")


def test_receipt_from_the_outbox_reaches_kannels_dlr_url(
    bridge: RunningBridge, kannel: Kannel, sink: HttpSink
) -> None:
    tag = "dlr-test"
    accepted(kannel.sendsms(RECIPIENT, "Receipt wanted", dlr_mask=1 | 2 | 8, dlr_tag=tag))
    [mt] = wait_stored(bridge, with_payload(b"Receipt wanted"))
    assert mt.registered_delivery == 0x01
    # Type 8 (SMSC ack) comes from our submit_sm_resp and carries the message id we gave.
    [ack] = sink.wait_for(lambda cb: cb.path == "/dlr" and cb.query.get("tag") == tag)
    assert (ack.query["type"], ack.query["fid"]) == ("8", mt.message_id)

    bridge.call(
        bridge.bridge.outbox.put_receipt(
            SYSTEM_ID, mt.message_id, DlrStatus.DELIVERED, source=SENDER, destination=RECIPIENT
        )
    )
    [final] = sink.wait_for(lambda cb: cb.path == "/dlr" and cb.query.get("type") == "1")
    assert (final.query["tag"], final.query["fid"]) == (tag, mt.message_id)
    assert (
        final.query["answer"].startswith(f"id:{mt.message_id} ") and "stat:DELIVRD" in final.query["answer"]
    )
    [receipt] = [
        pdu
        for pdu in kannel.pdus("deliver_sm", "got")
        if pdu.octets("receipted_message_id") == mt.message_id.encode()
    ]
    assert receipt["esm_class"] == 0x04 and receipt["message_state"] == 2  # DELIVERED
    assert answer_to(kannel, receipt, "sent")["command_status"] == c.ESME_ROK
    wait_until(lambda: outbox_pending(bridge) == [], 10, "the outbox emptied")


# --------------------------------------------------------------------------- drain


def test_bridge_drain_unbinds_kannel(sink: HttpSink, tmp_path: Path) -> None:
    with running_bridge([account(SYSTEM_ID)]) as own:
        bind = SmppBind(own.port, SYSTEM_ID, PASSWORD, smsc_id="draining")
        with running_kannel(bind, sink, tmp_path) as draining:
            own.call(own.bridge.drain())
            [unbind] = kannel_pdus(draining, "unbind", "got")
            assert answer_to(draining, unbind, "sent")["command_status"] == c.ESME_ROK
            wait_until(lambda: not draining.is_online(), 10, "Kannel to leave the online state")
            assert own.bridge.metrics()["open_connections"] == 0

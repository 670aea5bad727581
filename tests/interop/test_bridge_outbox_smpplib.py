"""Partner outbox over SMPP, with smpplib as the partner: MOs and receipts as deliver_sm, offline waiting."""

from __future__ import annotations

import time

import pytest
import smpplib.client
import smpplib.consts

from smpp_bridge.smpp import constants as c
from smsbilling.domain.dlr import DlrStatus, parse_receipt
from tests.interop.bridge_harness import PASSWORD, RunningBridge, account, running_bridge

pytestmark = pytest.mark.interop


def bound_client(bridge: RunningBridge, mode: str = "transceiver") -> smpplib.client.Client:
    client = smpplib.client.Client("127.0.0.1", bridge.port, timeout=5, allow_unknown_opt_params=True)
    client.connect()
    getattr(client, f"bind_{mode}")(system_id="partner1", password=PASSWORD)
    return client


def receive(client: smpplib.client.Client, count: int, status: int = 0) -> list[smpplib.command.DeliverSM]:
    got: list[smpplib.command.DeliverSM] = []

    def handler(pdu, **_):  # type: ignore[no-untyped-def]
        got.append(pdu)
        return status

    client.set_message_received_handler(handler)
    deadline = time.monotonic() + 10
    while len(got) < count:
        assert time.monotonic() < deadline, f"got {len(got)} of {count} deliver_sm"
        client.read_once()
    return got


def wait_until(predicate, timeout_s: float = 10) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline
        time.sleep(0.05)


def put(bridge: RunningBridge, coro_fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    return bridge.call(coro_fn(*args, **kwargs))


def test_mo_is_delivered_as_deliver_sm_and_removed_once_answered() -> None:
    with running_bridge([account()]) as bridge:
        client = bound_client(bridge)
        item = put(bridge, bridge.bridge.outbox.put_mo, "partner1", "447700900123", "4444", b"ABC 123")
        [pdu] = receive(client, 1)
        assert pdu.short_message == b"ABC 123"
        assert pdu.source_addr == b"447700900123" and int(pdu.source_addr_ton) == 1
        assert pdu.destination_addr == b"4444" and int(pdu.dest_addr_ton) == 3  # a short code, not E.164
        wait_until(lambda: bridge.bridge.outbox.store.pending("partner1") == [])
        assert bridge.bridge.metrics()["outbox_delivered"] == 1
        assert item.kind.value == "mo"
        client.disconnect()


def test_receipt_carries_the_standard_text_and_tlvs() -> None:
    with running_bridge([account()]) as bridge:
        client = bound_client(bridge)
        put(
            bridge,
            bridge.bridge.outbox.put_receipt,
            "partner1",
            "abc123",
            DlrStatus.DELIVERED,
            source="BILLING",
            destination="447700900123",
        )
        [pdu] = receive(client, 1)
        assert int(pdu.esm_class) & 0x3C == 0x04
        receipt = parse_receipt(pdu.short_message.decode())
        assert receipt.message_id == "abc123" and receipt.stat == "DELIVRD"
        assert pdu.receipted_message_id == b"abc123"
        assert int(pdu.message_state) == 2  # DELIVERED
        assert pdu.source_addr == b"447700900123" and pdu.destination_addr == b"BILLING"
        client.disconnect()


def test_messages_wait_while_the_partner_is_offline_and_in_order() -> None:
    with running_bridge([account()]) as bridge:
        for n in range(5):
            put(bridge, bridge.bridge.outbox.put_mo, "partner1", "447700900123", "4444", f"msg {n}".encode())
        time.sleep(0.3)
        assert len(bridge.bridge.outbox.store.pending("partner1")) == 5
        client = bound_client(bridge, "receiver")
        texts = [pdu.short_message for pdu in receive(client, 5)]
        assert texts == [f"msg {n}".encode() for n in range(5)]
        client.disconnect()


def test_a_transmitter_bind_gets_nothing() -> None:
    with running_bridge([account()]) as bridge:
        client = bound_client(bridge, "transmitter")
        put(bridge, bridge.bridge.outbox.put_mo, "partner1", "447700900123", "4444", b"for a receiver")
        time.sleep(0.5)
        assert len(bridge.bridge.outbox.store.pending("partner1")) == 1
        client.disconnect()


def test_refused_deliveries_are_retried_and_nothing_is_lost() -> None:
    with running_bridge([account()]) as bridge:
        client = bound_client(bridge)
        put(bridge, bridge.bridge.outbox.put_mo, "partner1", "447700900123", "4444", b"retry me")
        [first] = receive(client, 1, status=c.ESME_RX_T_APPN)  # the partner's app is not ready
        [second] = receive(client, 1)
        assert first.short_message == second.short_message == b"retry me"
        wait_until(lambda: bridge.bridge.outbox.store.pending("partner1") == [])
        metrics = bridge.bridge.metrics()
        assert metrics["outbox_refused"] == 1 and metrics["outbox_delivered"] == 1
        client.disconnect()


def test_a_dropped_connection_keeps_unanswered_items() -> None:
    with running_bridge([account()]) as bridge:
        client = bound_client(bridge)
        client.set_message_received_handler(lambda **_: None)
        put(bridge, bridge.bridge.outbox.put_mo, "partner1", "447700900123", "4444", b"never answered")
        client.read_pdu()  # the deliver_sm arrives; we drop the line instead of answering
        client._socket.close()
        wait_until(lambda: bridge.bridge.metrics()["open_connections"] == 0)
        wait_until(lambda: bridge.bridge.metrics()["outbox_possible_duplicates"] == 1)
        again = bound_client(bridge)
        [pdu] = receive(again, 1)
        assert pdu.short_message == b"never answered"
        again.disconnect()


def test_long_mo_goes_in_message_payload() -> None:
    with running_bridge([account()]) as bridge:
        client = bound_client(bridge)
        text = ("x" * 300).encode()
        put(bridge, bridge.bridge.outbox.put_mo, "partner1", "447700900123", "4444", text)
        [pdu] = receive(client, 1)
        assert pdu.short_message in (b"", None)
        assert pdu.message_payload == text
        client.disconnect()

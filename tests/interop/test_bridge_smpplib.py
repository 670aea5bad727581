"""The bridge's SMPP server role against smpplib, an independent SMPP client, over real sockets (R4, R10)."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import time
import urllib.request

import pytest
import smpplib.client
import smpplib.consts
import smpplib.exceptions
import smpplib.smpp

from smpp_bridge.smpp import constants as c
from tests.interop.bridge_harness import PASSWORD, account, running_bridge

pytestmark = pytest.mark.interop


def client_for(port: int) -> smpplib.client.Client:
    client = smpplib.client.Client("127.0.0.1", port, timeout=5, allow_unknown_opt_params=True)
    client.connect()
    return client


def bind_status(port: int, system_id: str, password: str) -> int:
    client = client_for(port)
    try:
        client.bind_transceiver(system_id=system_id, password=password)
    except smpplib.exceptions.PDUError as error:
        return int(error.args[1])
    finally:
        client.disconnect()
    return 0


def submit(client: smpplib.client.Client, text: bytes = b"hello", destination: str = "447700900123"):  # type: ignore[no-untyped-def]
    client.send_message(
        source_addr_ton=5,
        source_addr="BILLING",
        dest_addr_ton=1,
        dest_addr_npi=1,
        destination_addr=destination,
        short_message=text,
        registered_delivery=1,
    )
    return client.read_pdu()


def test_bind_submit_and_durable_ack() -> None:
    with running_bridge([account()]) as bridge:
        client = client_for(bridge.port)
        client.bind_transceiver(system_id="partner1", password=PASSWORD)
        response = submit(client, b"Hello from smpplib")
        assert response.command == "submit_sm_resp" and response.status == 0
        message_id = response.message_id.decode()
        [stored] = bridge.sink.sent
        assert stored.message_id == message_id
        assert stored.tenant == "owner-of-partner1" and stored.channel == "smpp:partner1"
        assert bytes.fromhex(stored.short_message_hex) == b"Hello from smpplib"
        assert (stored.source, stored.source_ton, stored.destination) == ("BILLING", 5, "447700900123")
        assert stored.registered_delivery == 1
        client.unbind()
        client.disconnect()


@pytest.mark.parametrize("case", ["wrong_password", "unknown_account", "address_not_allowed", "disabled"])
def test_every_refused_bind_gets_the_same_answer(case: str) -> None:
    accounts = [account(), account("far", allowed_cidrs=("10.0.0.0/8",)), account("off", enabled=False)]
    with running_bridge(accounts) as bridge:
        system_id, password = {
            "wrong_password": ("partner1", "nope"),
            "unknown_account": ("ghost", PASSWORD),
            "address_not_allowed": ("far", PASSWORD),
            "disabled": ("off", PASSWORD),
        }[case]
        assert bind_status(bridge.port, system_id, password) == c.ESME_RBINDFAIL
        assert bind_status(bridge.port, "partner1", PASSWORD) == 0  # the server is unharmed


def test_repeated_failures_lock_the_account_out() -> None:
    with running_bridge([account()], bind_failures_before_lockout_max=3, lockout_s=60) as bridge:
        for _ in range(3):
            assert bind_status(bridge.port, "partner1", "nope") == c.ESME_RBINDFAIL
        assert bind_status(bridge.port, "partner1", PASSWORD) == c.ESME_RBINDFAIL  # locked, even when right


def test_bind_limit_per_account() -> None:
    with running_bridge([account(binds_max=1)]) as bridge:
        first = client_for(bridge.port)
        first.bind_transceiver(system_id="partner1", password=PASSWORD)
        assert bind_status(bridge.port, "partner1", PASSWORD) == c.ESME_RBINDFAIL
        first.unbind()
        first.disconnect()
        deadline = time.monotonic() + 5
        while bind_status(bridge.port, "partner1", PASSWORD) != 0:  # the slot comes back on close
            assert time.monotonic() < deadline
            time.sleep(0.05)


def test_over_the_rate_is_throttled_not_disconnected() -> None:
    with running_bridge([account()], submit_rate_per_s=2) as bridge:
        client = client_for(bridge.port)
        client.bind_transceiver(system_id="partner1", password=PASSWORD)
        statuses = [submit(client).status for _ in range(5)]
        assert statuses[:2] == [0, 0]
        assert statuses[2:] == [c.ESME_RTHROTTLED] * 3
        assert len(bridge.sink.sent) == 2  # nothing beyond the limit was queued
        time.sleep(0.6)
        assert submit(client).status == 0  # the same bind goes on once tokens return
        client.unbind()
        client.disconnect()


def test_queue_outage_is_a_temporary_error_and_nothing_is_acknowledged() -> None:
    with running_bridge([account()]) as bridge:
        client = client_for(bridge.port)
        client.bind_transceiver(system_id="partner1", password=PASSWORD)
        bridge.sink.fail = True
        assert submit(client).status == c.ESME_RMSGQFUL
        bridge.sink.fail = False
        assert submit(client).status == 0
        assert len(bridge.sink.sent) == 1
        client.disconnect()


def test_submit_before_bind_is_refused_with_invalid_bind_status() -> None:
    with running_bridge([account()]) as bridge:
        client = client_for(bridge.port)  # smpplib refuses to send unbound: write its PDU ourselves
        pdu = smpplib.smpp.make_pdu(
            "submit_sm",
            client=client,
            source_addr="X",
            destination_addr="447700900123",
            short_message=b"early",
        )
        client._socket.sendall(pdu.generate())
        response = client.read_pdu()
        assert response.command == "submit_sm_resp" and response.status == c.ESME_RINVBNDSTS
        assert bridge.sink.sent == []
        client.disconnect()


def test_garbage_gets_generic_nack_and_the_server_lives_on() -> None:
    with running_bridge([account()]) as bridge:
        with socket.create_connection(("127.0.0.1", bridge.port), timeout=5) as sock:
            sock.sendall(struct.pack(">IIII", 16, 0x00000999, 0, 7))  # unknown command id
            _length, command_id, status, sequence = struct.unpack(">IIII", sock.recv(16))
            assert (command_id, status, sequence) == (c.GENERIC_NACK, c.ESME_RINVCMDID, 7)
            sock.sendall(struct.pack(">IIII", 8, 0x00000004, 0, 8))  # command_length below the header
            data = sock.recv(64)
            assert struct.unpack(">IIII", data[:16])[1:3] == (c.GENERIC_NACK, c.ESME_RINVCMDLEN)
        assert bind_status(bridge.port, "partner1", PASSWORD) == 0


def test_health_and_metrics_answer() -> None:
    with running_bridge([account()]) as bridge:
        client = client_for(bridge.port)
        client.bind_transceiver(system_id="partner1", password=PASSWORD)
        submit(client)
        with urllib.request.urlopen(f"http://127.0.0.1:{bridge.health_port}/health", timeout=5) as resp:
            assert json.load(resp) == {"status": "ok"}
        with urllib.request.urlopen(f"http://127.0.0.1:{bridge.health_port}/metrics", timeout=5) as resp:
            metrics = json.load(resp)
        assert metrics["binds"] == 1 and metrics["submits_accepted"] == 1 and metrics["binds_accepted"] == 1
        client.disconnect()


def test_drain_unbinds_bound_clients() -> None:
    with running_bridge([account()]) as bridge:
        client = client_for(bridge.port)
        client.bind_transceiver(system_id="partner1", password=PASSWORD)
        assert submit(client).status == 0
        future = asyncio.run_coroutine_threadsafe(bridge.bridge.drain(), bridge.loop)
        unbind = client.read_pdu()
        assert unbind.command == "unbind"
        client.send_pdu(smpplib.smpp.make_pdu("unbind_resp", client=client, sequence=unbind.sequence))
        future.result(10)
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", bridge.port), timeout=1).close()

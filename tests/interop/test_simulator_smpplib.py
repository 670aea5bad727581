"""The operator simulator against smpplib, an independent SMPP client, over real loopback sockets.

If smpplib can bind, submit, read a receipt and an MO from it, the simulator speaks SMPP as other
implementations read it, and the client-role tests against it are not a closed loop.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import smpplib.client
import smpplib.exceptions

from smpp_bridge.simulator import IdFormat, OperatorSimulator, SimulatorConfig

pytestmark = pytest.mark.interop


@contextmanager
def running_simulator(config: SimulatorConfig) -> Iterator[tuple[OperatorSimulator, int, Any]]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def call(coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(10)

    sim = OperatorSimulator(config)
    port = call(sim.start())
    try:
        yield sim, port, call
    finally:
        call(sim.stop())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


def bound_client(port: int, password: str = "secret") -> smpplib.client.Client:
    client = smpplib.client.Client("127.0.0.1", port, timeout=5, allow_unknown_opt_params=True)
    client.connect()
    client.bind_transceiver(system_id="bridge", password=password)
    return client


def read_deliver(client: smpplib.client.Client) -> Any:
    """The next deliver_sm, answered with deliver_sm_resp the way smpplib's own loop does."""
    received: list[Any] = []

    def handler(pdu: Any) -> None:  # smpplib passes it as a keyword argument
        received.append(pdu)

    client.set_message_received_handler(handler)
    while not received:
        client.read_once()
    return received[0]


def test_smpplib_binds_submits_and_reads_the_receipt() -> None:
    with running_simulator(SimulatorConfig(id_format=IdFormat.HEX)) as (sim, port, _):
        client = bound_client(port)
        client.send_message(
            source_addr_ton=5,
            source_addr="BILLING",
            dest_addr_ton=1,
            dest_addr_npi=1,
            destination_addr="447700900123",
            short_message=b"Hello from smpplib",
            registered_delivery=1,
        )
        response = client.read_pdu()
        assert response.command == "submit_sm_resp" and response.status == 0
        message_id = response.message_id.decode()
        int(message_id, 16)  # hex, as configured
        receipt = read_deliver(client)
        assert receipt.esm_class & 0x3C == 0x04
        assert receipt.receipted_message_id.decode().rstrip("\0") == message_id
        assert receipt.message_state == 2
        text = receipt.short_message.decode()
        assert text.startswith(f"id:{message_id} sub:001 dlvrd:001 submit date:")
        assert " stat:DELIVRD err:000 Text:Hello from smpplib" in text
        assert (receipt.source_addr.decode(), receipt.destination_addr.decode()) == (
            "447700900123",
            "BILLING",
        )
        client.unbind()
        client.disconnect()
        assert sim.stats.submits_accepted == 1 and sim.stats.delivers_acked == 1


def test_smpplib_receives_an_injected_mo() -> None:
    with running_simulator(SimulatorConfig()) as (sim, port, call):
        client = bound_client(port)
        call(sim.inject_mo("447700900123", "12345", "STOP ALL"))
        mo = read_deliver(client)
        assert mo.esm_class & 0x3C == 0
        assert (mo.source_addr.decode(), mo.destination_addr.decode()) == ("447700900123", "12345")
        assert mo.short_message == b"STOP ALL" and mo.data_coding == 0
        call(sim.inject_mo("447700900123", "12345", "Привет"))
        assert read_deliver(client).short_message.decode("utf-16-be") == "Привет"
        client.unbind()
        client.disconnect()


def test_smpplib_with_a_wrong_password_is_refused() -> None:
    with running_simulator(SimulatorConfig()) as (_, port, _call):
        client = smpplib.client.Client("127.0.0.1", port, timeout=5, allow_unknown_opt_params=True)
        client.connect()
        with pytest.raises(smpplib.exceptions.PDUError) as refused:
            client.bind_transmitter(system_id="bridge", password="wrong")
        assert int(refused.value.args[1]) == 0x0E  # ESME_RINVPASWD
        client.disconnect()


def test_standalone_simulator_with_http_control() -> None:
    """`python -m smpp_bridge.simulator_main`: prints its ports, takes MOs over loopback HTTP."""
    process = subprocess.Popen(
        [sys.executable, "-m", "smpp_bridge.simulator_main", "--system-id", "bridge", "--seed", "3"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "SMSBILLING_SIM_PASSWORD": "from-env", "PYTHONPATH": "."},
    )
    try:
        assert process.stdout is not None
        ports = json.loads(process.stdout.readline())
        assert ports["simulator"] == "listening"
        client = bound_client(ports["smpp"], password="from-env")
        request = urllib.request.Request(
            f"http://127.0.0.1:{ports['control']}/mo",
            data=json.dumps({"source": "447700900777", "destination": "12345", "text": "HELLO"}).encode(),
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as answer:
            assert answer.status == 202
        mo = read_deliver(client)
        assert mo.short_message == b"HELLO"
        with urllib.request.urlopen(f"http://127.0.0.1:{ports['control']}/stats", timeout=5) as answer:
            stats = json.loads(answer.read())
        assert stats["mos_queued"] == 1 and stats["bound"] == 1
        client.unbind()
        client.disconnect()
    finally:
        process.terminate()
        assert process.wait(10) == 0

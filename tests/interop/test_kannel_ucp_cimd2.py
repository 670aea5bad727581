"""Kannel 1.4.5 as a partner bound to the bridge over UCP/EMI (``smsc = emi``) and CIMD2
(``smsc = cimd2``): MT through ``sendsms`` stored as the same SendMt an SMPP submit gives, an MO
from the outbox to ``get-url``, and a receipt from the outbox to ``dlr-url``, correlated by Kannel
itself from the submit result's SCTS (UCP ``AdC:SCTS``, CIMD2 021 + 060).

The Kannel harness (tests/interop/kannel.py) writes an SMPP smsc group; ``ProtocolKannel``
swaps that group for an EMI or CIMD2 one and changes nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from smsbilling.adapters.memory_outbox import MemoryOutboxStore
from smsbilling.domain.dlr import DlrStatus
from tests.interop.bridge_harness import PASSWORD, RunningBridge, account, running_bridge
from tests.interop.kannel import HttpSink, Kannel, SmppBind, kannel_installed, wait_until

pytestmark = [pytest.mark.interop, pytest.mark.timeout(90)]

SYSTEM_ID = "kannel"
SENDER, RECIPIENT = "4444", "447700900123"
_SMSC_GROUP = re.compile(r"group = smsc\n.*?\n\n", re.DOTALL)
_GROUPS = {
    "ucp": "group = smsc\nsmsc = emi\nsmsc-id = {smsc_id}\nhost = 127.0.0.1\nport = {port}\n"
    "smsc-username = {user}\nsmsc-password = {password}\nkeepalive = 30\n\n",
    "cimd2": "group = smsc\nsmsc = cimd2\nsmsc-id = {smsc_id}\nhost = 127.0.0.1\nport = {port}\n"
    "smsc-username = {user}\nsmsc-password = {password}\nkeepalive = 30\n\n",
}


class ProtocolKannel(Kannel):
    protocol: str = "ucp"

    def write_config(self) -> Path:
        path = super().write_config()
        group = _GROUPS[self.protocol].format(
            smsc_id=self.bind.smsc_id,
            port=self.bind.port,
            user=self.bind.system_id,
            password=self.bind.password,
        )
        path.write_text(_SMSC_GROUP.sub(lambda _: group, path.read_text(), count=1))
        return path


@pytest.fixture(scope="module", autouse=True)
def kannel_required() -> None:
    if not kannel_installed():  # not a skip: `make test` installs it
        pytest.fail("Kannel is not installed: run `make system-deps` (apt-get install kannel)")


@pytest.fixture(scope="module")
def bridge() -> Iterator[RunningBridge]:
    with running_bridge([account(SYSTEM_ID)]) as running:
        yield running


@pytest.fixture(scope="module")
def sink() -> Iterator[HttpSink]:
    with HttpSink() as http_sink:
        yield http_sink


@pytest.mark.parametrize("protocol", ["ucp", "cimd2"])
def test_kannel_sends_an_mt_and_receives_an_mo_and_a_receipt(
    protocol: str, bridge: RunningBridge, sink: HttpSink, tmp_path: Path
) -> None:
    port = bridge.bridge.ports[protocol]
    kannel = ProtocolKannel(SmppBind(port, SYSTEM_ID, PASSWORD), sink, tmp_path)
    kannel.protocol = protocol
    kannel.start()
    try:
        text = f"Hello over {protocol}"
        tag = f"dlr-{protocol}"
        status, body = kannel.sendsms(RECIPIENT, text, sender=SENDER, dlr_mask=1 | 2, dlr_tag=tag)
        assert status == 202 and body.startswith("0:"), body

        def mine() -> list[object]:
            return [
                mt for mt in list(bridge.sink.sent) if bytes.fromhex(mt.short_message_hex) == text.encode()
            ]

        wait_until(mine, 15, f"the {protocol} submit stored")
        [mt] = [m for m in list(bridge.sink.sent) if bytes.fromhex(m.short_message_hex) == text.encode()]
        assert mt.channel == f"smpp:{SYSTEM_ID}" and mt.destination.removeprefix("+") == RECIPIENT
        assert mt.data_coding == 0 and mt.registered_delivery == 1

        mo_text = f"JOIN {protocol}"
        bridge.call(bridge.bridge.outbox.put_mo(SYSTEM_ID, "447700900001", SENDER, mo_text.encode(), 0))
        [mo] = sink.wait_for(lambda cb: cb.path == "/mo" and cb.query.get("text") == mo_text)
        assert mo.query["from"].removeprefix("+") == "447700900001" and mo.query["to"] == SENDER

        bridge.call(
            bridge.bridge.outbox.put_receipt(
                SYSTEM_ID, mt.message_id, DlrStatus.DELIVERED, source=SENDER, destination=RECIPIENT
            )
        )
        sink.wait_for(  # Kannel found the MT by the SCTS of our submit result: its tag comes back
            lambda cb: cb.path == "/dlr" and cb.query.get("tag") == tag and cb.query.get("type") == "1"
        )
        store = bridge.bridge.outbox.store
        assert isinstance(store, MemoryOutboxStore)
        wait_until(lambda: store.pending(SYSTEM_ID) == [], 10, "the outbox emptied")
    finally:
        kannel.stop()

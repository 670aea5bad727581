"""The bridge's CIMD2 client role against Kannel's ``test_cimd2`` (kannel-extras) as the operator's SMSC.

``test_cimd2 --activity 1`` is Kannel's own CIMD2 server: it checks the login's user and password,
answers each submit with its own 021 + 060 (the service-centre time stamp) and logs every packet
both ways (``--logging 1``). It serves one client and exits when that client goes, so nothing here
connects to it before the bridge does: readiness is its listening socket in ``/proc/net/tcp``.

The bridge side runs as in production (an ``OperatorLink`` with ``protocol = cimd2`` in the entity
store, the link registry, the outbound consumer; in-memory queues): an MT command on the outbound
queue goes out as an op 03 that Kannel logs with our recipient, originator and text, and comes
back as an accepted ``SubmitResult`` whose operator id is the recipient and the time stamp Kannel
answered with. A wrong password is refused by Kannel (900:100) and is a bind refusal here.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import re
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from smpp_bridge.operator_side import OperatorSide
from smsbilling.adapters.memory_entities import MemoryEntityStore
from smsbilling.adapters.memory_inbound import MemoryEventPublisher, MemoryInboundStore
from smsbilling.adapters.sqs_queue import MemoryQueue
from smsbilling.contracts import SubmitResult
from smsbilling.domain.entities import Protocol
from tests.interop.kannel import free_ports, wait_until
from tests.unit.bridge.operator_harness import (
    LINK_ID,
    PASSWORD,
    SYSTEM_ID,
    command,
    operator,
    settings,
    smpp_link,
)

pytestmark = [pytest.mark.interop, pytest.mark.timeout(60)]

TEST_CIMD2 = Path("/usr/lib/kannel/test/test_cimd2")
START_ATTEMPTS_MAX = 3
START_TIMEOUT_S = 5.0
STOP_TIMEOUT_S = 10.0
_PACKET = re.compile(r"<STX>(\d\d):(\d\d\d)<TAB>(.*?)<ETX>")


@dataclass(frozen=True)
class Packet:
    """One CIMD2 packet as test_cimd2 logged it (either direction): operation, number, parameters."""

    operation: int
    number: int
    params: dict[str, str]


def packets(log: str) -> list[Packet]:
    out = []
    for operation, number, body in _PACKET.findall(log):
        fields = [f for f in body.split("<TAB>") if ":" in f]  # the last field is the checksum
        out.append(Packet(int(operation), int(number), dict(f.split(":", 1) for f in fields)))
    return out


def _listening(port: int) -> bool:
    """A socket listening on ``port`` (test_cimd2 binds every interface; it has no host option),
    found without connecting to it."""
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    local = {f"0100007F:{port:04X}", f"00000000:{port:04X}"}
    return any(fields[1] in local and fields[3] == "0A" for fields in (line.split() for line in lines))


def _started(process: subprocess.Popen[bytes], port: int) -> Callable[[], bool]:
    return lambda: _listening(port) or process.poll() is not None


@dataclass
class Smsc:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def packets(self) -> list[Packet]:
        return packets(self.log())


@contextlib.contextmanager
def running_test_cimd2(workdir: Path, user: str, password: str) -> Iterator[Smsc]:
    """test_cimd2 on a free loopback port (retried with a new port if that one was taken meanwhile)."""
    if not TEST_CIMD2.exists():  # not a skip: `make system-deps` installs kannel-extras
        pytest.fail(f"{TEST_CIMD2} is missing: run `make system-deps` (apt-get install kannel-extras)")
    smsc: Smsc | None = None
    for attempt in range(START_ATTEMPTS_MAX):
        [port] = free_ports(1)
        log_path = workdir / f"test_cimd2-{attempt}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [
                    *(str(TEST_CIMD2), "--port", str(port), "--user", user, "--password", password),
                    *("--activity", "1", "--logging", "1"),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_until(_started(process, port), START_TIMEOUT_S, "test_cimd2 listening")
        except TimeoutError:
            process.kill()
            process.wait(STOP_TIMEOUT_S)
            raise
        if process.poll() is None:
            smsc = Smsc(process, port, log_path)
            break
    if smsc is None:
        raise RuntimeError(f"test_cimd2 did not start in {START_ATTEMPTS_MAX} attempts; see {workdir}")
    try:
        yield smsc
    finally:
        if smsc.process.poll() is None:
            smsc.process.terminate()
            try:
                smsc.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                smsc.process.kill()
                smsc.process.wait(STOP_TIMEOUT_S)


@dataclass
class Bridge:
    side: OperatorSide
    outbound: MemoryQueue
    dlr: MemoryQueue

    def results(self) -> list[SubmitResult]:
        bodies = [json.loads(body) for body in self.dlr.bodies()]
        return [SubmitResult(**b) for b in bodies if b["kind"] == "mt.submit_result"]


@contextlib.asynccontextmanager
async def operator_side(port: int, password: str = PASSWORD) -> AsyncIterator[Bridge]:
    """The bridge's operator side with one CIMD2 OperatorLink to ``port``."""
    entities = MemoryEntityStore()
    entities.put(operator())
    entities.put(smpp_link(port, protocol=Protocol.CIMD2, smpp_password=password))
    s = settings()
    outbound, dlr = MemoryQueue(visibility_s=s.bridge.outbound_visibility_s), MemoryQueue()
    side = OperatorSide(
        s,
        links=entities,
        outbound=outbound,
        mt_events=dlr,
        inbound_store=MemoryInboundStore(),
        mo_events=MemoryEventPublisher(),
    )
    await side.start()
    try:
        yield Bridge(side, outbound, dlr)
    finally:
        await side.drain(s.bridge.drain_timeout_s)


def _results_at_least(bridge: Bridge, count: int) -> bool:
    return len(bridge.results()) >= count


async def until(predicate: Callable[[], object], timeout_s: float = 15.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not predicate():
            await asyncio.sleep(0.02)


def test_mts_go_to_kannels_cimd2_smsc_and_its_answers_are_the_submit_results(tmp_path: Path) -> None:
    numeric = command(1, short_message_hex=b"Hello from the bridge 42".hex())
    alpha = command(2, source="BILLING", source_ton=5, short_message_hex=b"Your code is 1234".hex())

    async def main(smsc: Smsc) -> None:
        async with operator_side(smsc.port) as bridge:
            await until(bridge.side.registry.any_bound)
            for count, mt in enumerate((numeric, alpha), start=1):  # one after the other: in order
                bridge.outbound.send(mt.model_dump_json())
                await until(functools.partial(_results_at_least, bridge, count))
            await until(lambda: len(bridge.outbound) == 0)
            results = {r.message_id: r for r in bridge.results()}
            got = smsc.packets()
            submits = [p for p in got if p.operation == 3]
            answers = {p.number: p for p in got if p.operation == 53}
            assert len(submits) == len(results) == 2
            for mt, submit in zip((numeric, alpha), submits, strict=True):
                result = results[mt.message_id]
                assert (result.accepted, result.link_id, result.error) == (True, LINK_ID, "")
                assert submit.number % 2 == 1  # ours are odd; Kannel answered with the same number
                answer = answers[submit.number]
                assert result.operator_message_id == f"{answer.params['021']}:{answer.params['060']}"
                assert submit.params["021"] == mt.destination
                assert submit.params["033"] == bytes.fromhex(mt.short_message_hex).decode()
                assert submit.params["056"] != "0"  # a receipt asked for
            # a numeric originator is 023, an alphanumeric one 027
            assert (submits[0].params["023"], submits[1].params["027"]) == ("4444", "BILLING")

    with running_test_cimd2(tmp_path, SYSTEM_ID, PASSWORD) as smsc:
        asyncio.run(main(smsc))
        smsc.process.wait(STOP_TIMEOUT_S)  # it exits once its one client has gone
        got = smsc.packets()
    login = got[0]
    assert (login.operation, login.number, login.params) == (1, 1, {"010": SYSTEM_ID, "011": PASSWORD})
    assert got[1].operation == 51 and "900" not in got[1].params  # login accepted
    assert [p.operation for p in got[-2:]] == [2, 52]  # drained: our logout and Kannel's answer
    assert smsc.process.returncode == 0


def test_a_wrong_password_is_refused_by_kannel_and_is_a_bind_refusal(tmp_path: Path) -> None:
    async def main(smsc: Smsc) -> None:
        async with operator_side(smsc.port, password="wrong") as bridge:
            [pool] = bridge.side.registry.pools()
            await until(lambda: sum(s.bind_refusals for s in pool.stats().values()) >= 1)
            assert not bridge.side.registry.any_bound()

    with running_test_cimd2(tmp_path, SYSTEM_ID, PASSWORD) as smsc:
        asyncio.run(main(smsc))
        got = smsc.packets()
    assert [(p.operation, p.params) for p in got[:2]] == [
        (1, {"010": SYSTEM_ID, "011": "wrong"}),
        (51, {"900": "100", "901": "invalid login"}),
    ]

"""The outbound consumer: ``OutboundSubmit`` from the outbound queue -> ``submit_sm`` on its link.

For each received command, in this order and never otherwise:

1. ``submit_sm`` on the :class:`LinkPool` of ``link_id`` (window, pacing and back-off are the
   pool's; see ``client.py``);
2. publish one ``SubmitResult`` on the DLR queue: accepted with the operator's message id, or
   refused with ``smpp:0x..`` and ``permanent`` True (any status but the throttling ones);
3. only then delete the SQS message.

Not sent yet (no bound bind for the link, an unknown link, throttled past the message's time,
no window slot): the message is *not* deleted; its visibility is set to an exponential back-off
from its receive count, so it comes back later. While no link at all is bound the pollers stop
receiving, so an outage of the only link burns no receive counts. A link that stays down while
others are up spends one receive per back-off: after the queue's ``maxReceiveCount`` the message
goes to the outbound DLQ, whose alarm fires (redrive it once the link is back).

Sent but no answer (timeout, connection lost: outcome UNKNOWN) and a crash anywhere before the
delete lead to the same thing: the message comes back and is submitted again. SMPP has no way to
ask an SMSC whether it took a submit it never acknowledged, so this can send the handset a
duplicate; each such resubmit is counted (``possible_duplicates``), never hidden. The MT side is
idempotent on (message id, part): a second ``SubmitResult`` for a part changes nothing twice.
Within one process the bridge also remembers the parts it has answered (``answered``), so a copy
delivered again after a lost delete, or an SQS duplicate, is deleted without a second submit.

Concurrency is bounded by the links' windows: the pollers receive only while fewer than
``2 x (sum of windows)`` commands wait for or sit in a window (so the windows stay full and the
next batch is at hand), and fewer than ``outbound_in_flight_max`` are in hand in all (results
being published and deletes count there, not against the windows).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import ValidationError

from smpp_bridge.batching import Batcher, BatchFailed
from smpp_bridge.client import Outcome, SubmitOutcome
from smpp_bridge.links import LinkRegistry
from smpp_bridge.smpp import SubmitSm
from smpp_bridge.smpp import constants as c
from smpp_bridge.smpp.tlv import MESSAGE_PAYLOAD
from smsbilling.adapters.sqs_queue import ReceivedMessage
from smsbilling.contracts import OutboundSubmit, SubmitResult
from smsbilling.settings import BridgeSettings, SmppLimits

logger = logging.getLogger("smpp_bridge.outbound")

RECEIVE_BATCH = 10
ADDRESS_OCTETS_MAX = 20  # submit_sm source_addr / destination_addr: C-Octet String of 21 with the NUL
DEST_TON_INTERNATIONAL = 1  # OutboundSubmit.destination is an E.164 number without '+'
DEST_NPI_ISDN = 1
POLL_ERROR_PAUSE_S = 1.0
OPERATOR_ID_CHARS_MAX = 64  # SubmitResult.operator_message_id


class QueueReader(Protocol):
    """The outbound queue as the consumer uses it (blocking calls; see adapters/sqs_queue.py)."""

    def receive(self, max_messages: int, wait_s: int, visibility_s: int) -> list[ReceivedMessage]: ...

    def delete_batch(self, receipt_handles: Sequence[str]) -> list[int]: ...

    def change_visibility_batch(self, entries: Sequence[tuple[str, int]]) -> list[int]: ...


class InvalidSubmit(ValueError):
    """The command cannot be put in a submit_sm (an address too long or not ASCII)."""


def validity_period(seconds: int) -> str:
    """SMPP relative time ``YYMMDDhhmmss000R`` for ``seconds`` (days up to 99)."""
    days, rest = divmod(max(0, seconds), 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return f"0000{min(days, 99):02d}{hours:02d}{minutes:02d}{secs:02d}000R"


def _address(name: str, value: str) -> str:
    if not value.isascii() or "\x00" in value or len(value) > ADDRESS_OCTETS_MAX:
        raise InvalidSubmit(f"{name} must be at most {ADDRESS_OCTETS_MAX} ASCII characters without NUL")
    return value


def submit_pdu(command: OutboundSubmit, validity: str = "") -> SubmitSm:
    """The submit_sm for one MT part; more than 254 octets travel in ``message_payload``."""
    payload = bytes.fromhex(command.short_message_hex)
    long_payload = len(payload) > c.SHORT_MESSAGE_SIZE_MAX
    return SubmitSm(
        source_addr_ton=command.source_ton,
        source_addr_npi=command.source_npi,
        source_addr=_address("source", command.source),
        dest_addr_ton=DEST_TON_INTERNATIONAL,
        dest_addr_npi=DEST_NPI_ISDN,
        destination_addr=_address("destination", command.destination),
        esm_class=command.esm_class,
        registered_delivery=command.registered_delivery,
        data_coding=command.data_coding,
        validity_period=validity,
        short_message=b"" if long_payload else payload,
        tlvs=(MESSAGE_PAYLOAD(payload),) if long_payload else (),
    )


def smpp_error(status: int | None) -> str:
    return f"smpp:0x{status:02x}" if status is not None else "smpp:unknown"


@dataclass
class OutboundStats:
    received: int = 0
    accepted: int = 0
    refused: int = 0  # permanent SubmitResults
    not_sent: int = 0  # back to the queue, not sent (link down, throttled, no slot)
    link_unavailable: int = 0  # of which: unknown link or no bound bind
    possible_duplicates: int = 0  # sent without an answer: the resubmit may reach the handset twice
    resubmitted_in_process: int = 0  # throttled or no slot, tried again before giving it back
    duplicates_answered: int = 0  # a part answered before came again: deleted, not resubmitted
    bad_messages: int = 0  # not an OutboundSubmit: left to the DLQ
    result_publish_failures: int = 0
    delete_failures: int = 0
    visibility_failures: int = 0
    poll_errors: int = 0


class OutboundConsumer:
    def __init__(
        self,
        queue: QueueReader,
        registry: LinkRegistry,
        *,
        publish: Callable[[str], Awaitable[None]],
        bridge: BridgeSettings,
        limits: SmppLimits,
        executor: Executor,
        poll_executor: Executor,
        mt_validity_s: int = 0,
        rng: random.Random | None = None,
        wall_clock: Callable[[], datetime] | None = None,
    ) -> None:
        """``publish(body)`` is an ``async`` callable putting one MtEvent JSON on the DLR queue."""
        if bridge.outbound_visibility_s <= limits.submit_wait_s_max + limits.response_timeout_s:
            raise ValueError("outbound_visibility_s must exceed submit_wait_s_max + response_timeout_s")
        self._queue = queue
        self._registry = registry
        self._publish = publish
        self._settings = bridge
        self._limits = limits
        self._poll_executor = poll_executor
        self._validity = validity_period(mt_validity_s) if mt_validity_s > 0 else ""
        self._rng = rng or random.Random()
        self._wall_clock = wall_clock or (lambda: datetime.now(UTC))
        self.stats = OutboundStats()
        self._deletes: Batcher[str] = Batcher(
            queue.delete_batch, executor=executor, linger_s=bridge.queue_linger_s, name="outbound-delete"
        )
        self._visibility: Batcher[tuple[str, int]] = Batcher(
            queue.change_visibility_batch,
            executor=executor,
            linger_s=bridge.queue_linger_s,
            name="outbound-visibility",
        )
        self._answered: OrderedDict[tuple[str, int], None] = OrderedDict()  # keys only: ~200 B each
        self._in_hand: set[tuple[str, int]] = set()  # parts between receive and submit outcome
        self._before_outcome = 0  # commands received whose submit has no outcome yet
        self._tasks: set[asyncio.Task[None]] = set()
        self._pollers: list[asyncio.Task[None]] = []
        self._stopping = False
        self._room = asyncio.Event()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._pollers = [
            loop.create_task(self._poll(), name=f"outbound-poller-{i}")
            for i in range(self._settings.outbound_pollers_count)
        ]

    async def stop(self, timeout_s: float) -> None:
        """Stop receiving; let commands in hand finish (bounded); flush the deletes."""
        self._stopping = True
        self._room.set()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=max(0.0, deadline - loop.time()))
        for task in self._tasks:
            task.cancel()  # abandoned: the message comes back after its visibility timeout
        if self._pollers:
            await asyncio.wait(self._pollers, timeout=max(0.0, deadline - loop.time()))
            for poller in self._pollers:
                poller.cancel()
        await self._deletes.close()
        await self._visibility.close()

    @property
    def in_hand(self) -> int:
        return len(self._tasks)

    def window_room(self) -> int:
        """How many commands may wait for or sit in the links' windows."""
        return max(RECEIVE_BATCH, 2 * self._registry.submit_capacity())

    def _full(self) -> bool:
        return (
            self._before_outcome + RECEIVE_BATCH > self.window_room()
            or self.in_hand + RECEIVE_BATCH > self._settings.outbound_in_flight_max
        )

    # ------------------------------------------------------------------ polling
    async def _poll(self) -> None:
        loop = asyncio.get_running_loop()
        s = self._settings
        while not self._stopping:
            if not self._registry.any_bound():
                await self._registry.wait_change(1.0)
                continue
            if self._full():
                self._room.clear()
                await self._room.wait()
                continue
            try:
                messages = await loop.run_in_executor(
                    self._poll_executor,
                    self._queue.receive,
                    RECEIVE_BATCH,
                    s.outbound_receive_wait_s,
                    s.outbound_visibility_s,
                )
            except Exception as error:  # the queue is unreachable: try again shortly
                self.stats.poll_errors += 1
                logger.warning("outbound receive failed", extra={"error": repr(error)})
                await asyncio.sleep(POLL_ERROR_PAUSE_S)
                continue
            received_at = loop.time()
            for message in messages:
                self.stats.received += 1
                if self._stopping:  # received while stopping: give it straight back
                    self._spawn(self._later(message, 0))
                else:
                    self._before_outcome += 1
                    self._spawn(self._handle(message, received_at))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._room.set()
        if not task.cancelled() and task.exception() is not None:
            logger.error("outbound handler failed", exc_info=task.exception())

    # ------------------------------------------------------------------ one command
    async def _handle(self, message: ReceivedMessage, received_at: float) -> None:
        outcome_counted = [False]

        def outcome_known() -> None:  # from here on it no longer holds a place before a window
            if not outcome_counted[0]:
                outcome_counted[0] = True
                self._before_outcome -= 1
                self._room.set()

        try:
            await self._handle_command(message, received_at, outcome_known)
        finally:
            outcome_known()

    async def _handle_command(
        self, message: ReceivedMessage, received_at: float, outcome_known: Callable[[], None]
    ) -> None:
        try:
            command = OutboundSubmit.model_validate_json(message.body)
        except ValidationError as error:
            self.stats.bad_messages += 1
            logger.error(
                "not an OutboundSubmit: left for the DLQ",
                extra={"sqs_message_id": message.message_id, "errors": error.error_count()},
            )
            await self._later(message, self._settings.outbound_retry_backoff_max_s)
            return
        key = (command.message_id, command.part_index)
        if key in self._answered:  # answered and published before: only the delete was missing
            self.stats.duplicates_answered += 1
            await self._delete(message)
            return
        if key in self._in_hand:  # an SQS duplicate of a part being submitted: decide after it
            await self._later(message, self._backoff(1))
            return
        try:
            pdu = submit_pdu(command, self._validity)
        except InvalidSubmit as error:
            await self._finish(message, self._refused(command, f"bridge:{error}", None))
            return
        self._in_hand.add(key)
        try:
            give_back_s = await self._submit(message, command, pdu, received_at, outcome_known)
        finally:
            self._in_hand.discard(key)
        if give_back_s is not None:  # out of hand first: its next receive is a new try, not a duplicate
            await self._later(message, give_back_s)

    async def _submit(
        self,
        message: ReceivedMessage,
        command: OutboundSubmit,
        pdu: SubmitSm,
        received_at: float,
        outcome_known: Callable[[], None],
    ) -> int | None:
        """Submit and finish; or return the visibility (s) to give the message back with."""
        loop = asyncio.get_running_loop()
        # Past this, a new attempt could outlive the message's visibility: give it back instead.
        deadline = (
            received_at
            + self._settings.outbound_visibility_s
            - (self._limits.submit_wait_s_max + self._limits.response_timeout_s)
        )
        while True:
            pool = self._registry.get(command.link_id)
            if pool is None or not pool.can_submit_now():
                self.stats.not_sent += 1
                self.stats.link_unavailable += 1
                if pool is None:
                    logger.warning("no such SMPP link", extra={"link": command.link_id})
                return self._backoff(message.receive_count)
            outcome = await pool.submit(pdu)
            if outcome.kind is not Outcome.RETRY:
                break
            if loop.time() >= deadline or self._stopping:
                self.stats.not_sent += 1
                return self._backoff(message.receive_count)
            self.stats.resubmitted_in_process += 1  # the pool paused after a throttle: wait our turn
        outcome_known()
        if outcome.kind is Outcome.UNKNOWN:
            self.stats.possible_duplicates += 1
            logger.warning(
                "submit unanswered: will be resubmitted",
                extra={
                    "message_id": command.message_id,
                    "part": command.part_index,
                    "reason": outcome.reason,
                },
            )
            return self._backoff(1)
        await self._finish(message, self._result(command, outcome))
        return None

    def _result(self, command: OutboundSubmit, outcome: SubmitOutcome) -> SubmitResult:
        if outcome.kind is Outcome.ACCEPTED:
            operator_id = outcome.message_id.strip(" \x00")
            if len(operator_id) > OPERATOR_ID_CHARS_MAX:  # cannot be correlated; the MT expires
                return self._refused(command, "bridge:operator message id longer than 64", None)
            return SubmitResult(
                message_id=command.message_id,
                part_index=command.part_index,
                link_id=command.link_id,
                accepted=True,
                operator_message_id=operator_id,
                at=self._wall_clock(),
            )
        return self._refused(command, smpp_error(outcome.command_status), True)

    def _refused(self, command: OutboundSubmit, error: str, permanent: bool | None) -> SubmitResult:
        return SubmitResult(
            message_id=command.message_id,
            part_index=command.part_index,
            link_id=command.link_id,
            accepted=False,
            error=error[:200],
            permanent=permanent is not False,
            at=self._wall_clock(),
        )

    async def _finish(self, message: ReceivedMessage, result: SubmitResult) -> None:
        """Publish the result (retried), remember it, and only then delete the command."""
        body = result.model_dump_json()
        for attempt in range(self._settings.result_publish_attempts_max):
            try:
                await self._publish(body)
                break
            except BatchFailed as error:
                logger.warning(
                    "SubmitResult not published", extra={"attempt": attempt + 1, "error": str(error)}
                )
                await asyncio.sleep(min(2.0**attempt * 0.1, 5.0))
        else:
            # Not durable: the command stays on the queue and will be submitted again.
            self.stats.result_publish_failures += 1
            self.stats.possible_duplicates += result.accepted
            return
        if result.accepted:
            self.stats.accepted += 1
        else:
            self.stats.refused += 1
        self._remember((result.message_id, result.part_index))
        self._delete_soon(message)  # the result is durable: the command may go, no need to wait

    def _remember(self, key: tuple[str, int]) -> None:
        if self._settings.outbound_answered_kept_max <= 0:
            return
        self._answered[key] = None
        while len(self._answered) > self._settings.outbound_answered_kept_max:
            self._answered.popitem(last=False)

    def _delete_soon(self, message: ReceivedMessage) -> None:
        self._deletes.put_nowait(message.receipt_handle).add_done_callback(self._deleted)

    def _deleted(self, future: asyncio.Future[None]) -> None:
        if not future.cancelled() and future.exception() is not None:
            self.stats.delete_failures += 1  # it comes back; answered from memory or resubmitted
            logger.warning("outbound delete failed", extra={"error": str(future.exception())})

    async def _delete(self, message: ReceivedMessage) -> None:
        try:
            await self._deletes.put(message.receipt_handle)
        except BatchFailed as error:  # it comes back; answered from memory, or resubmitted after a restart
            self.stats.delete_failures += 1
            logger.warning("outbound delete failed", extra={"error": str(error)})

    async def _later(self, message: ReceivedMessage, visibility_s: int) -> None:
        try:
            await self._visibility.put((message.receipt_handle, visibility_s))
        except BatchFailed:  # it comes back when its current visibility runs out
            self.stats.visibility_failures += 1

    def _backoff(self, receive_count: int) -> int:
        s = self._settings
        ceiling = min(
            s.outbound_retry_backoff_max_s, s.outbound_retry_backoff_base_s * 2 ** min(receive_count - 1, 16)
        )
        return int(self._rng.uniform(ceiling / 2, ceiling)) if ceiling > 0 else 0

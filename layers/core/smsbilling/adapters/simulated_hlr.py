"""The simulated HLR provider of the local stage: deterministic answers by number pattern.

Used when no ``hlr_url`` is configured and the stage is ``local`` (adapters/hlr.py). A number
(E.164 digits) matching one of the configured patterns answers, first match wins:

===========================================================  =======================================
pattern (settings ``traffic.*``)                             answer
===========================================================  =======================================
``hlr_simulated_unreachable_prefixes`` / ``..._suffixes``    unreachable ("unknown subscriber")
``hlr_simulated_absent_suffixes``                            unknown: absent subscriber
``hlr_simulated_failing_suffixes``                           the provider failed (fail open)
anything else                                                reachable on network ``00101`` (test)
===========================================================  =======================================

By default numbers ending ``0404`` are unreachable, ``0410`` absent and ``0503`` failing; the
check only runs for partners whose switch is on, so the defaults touch no other traffic.
``lookups`` lists every number asked, for tests in the same process.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Final

from smsbilling.logic.hlr import HlrResult, HlrStatus
from smsbilling.settings import TrafficLimits

TEST_NETWORK: Final = "00101"  # MCC 001 / MNC 01: the ITU test network


class SimulatedHlrProvider:
    def __init__(
        self,
        *,
        unreachable_prefixes: Iterable[str] = (),
        unreachable_suffixes: Iterable[str] = (),
        absent_suffixes: Iterable[str] = (),
        failing_suffixes: Iterable[str] = (),
    ) -> None:
        self._unreachable_prefixes = tuple(p for p in unreachable_prefixes if p)
        self._unreachable_suffixes = tuple(s for s in unreachable_suffixes if s)
        self._absent_suffixes = tuple(s for s in absent_suffixes if s)
        self._failing_suffixes = tuple(s for s in failing_suffixes if s)
        self.lookups: list[str] = []
        self._lock = threading.Lock()

    @classmethod
    def from_limits(cls, limits: TrafficLimits) -> SimulatedHlrProvider:
        return cls(
            unreachable_prefixes=limits.hlr_simulated_unreachable_prefixes,
            unreachable_suffixes=limits.hlr_simulated_unreachable_suffixes,
            absent_suffixes=limits.hlr_simulated_absent_suffixes,
            failing_suffixes=limits.hlr_simulated_failing_suffixes,
        )

    def lookup(self, msisdn: str) -> HlrResult:
        digits = msisdn.removeprefix("+")
        with self._lock:
            self.lookups.append(digits)
        if digits.startswith(self._unreachable_prefixes) or digits.endswith(self._unreachable_suffixes):
            return HlrResult(HlrStatus.UNREACHABLE, error="simulated: unknown subscriber")
        if digits.endswith(self._absent_suffixes):
            return HlrResult(HlrStatus.UNKNOWN, error="simulated: absent subscriber", absent=True)
        if digits.endswith(self._failing_suffixes):
            return HlrResult.failed("simulated: provider unavailable")
        return HlrResult(HlrStatus.REACHABLE, network=TEST_NETWORK, ported=False)

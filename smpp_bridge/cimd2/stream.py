"""Framing: CIMD2 packets from a TCP byte stream.

CIMD2 frames like UCP (STX ... ETX, data between packets ignored), so the splitter is
:class:`smpp_bridge.ucp.stream.StxEtxSplitter`: resynchronisation on STX, a bounded buffer, and
results that do not depend on how the input was chunked. ``Cimd2Decoder.feed(data)`` returns, in
order, a decoded packet or a :class:`~.errors.Cimd2Error` *value* for every complete packet.
"""

from __future__ import annotations

import re
from typing import Final

from smpp_bridge.ucp.stream import BrokenFrame, StxEtxSplitter

from . import constants as c
from .codec import decode_frame
from .errors import Cimd2Error
from .packets import Message

_HEADER: Final = re.compile(rb"\x02([0-9]{2}):([0-9]{3})\t")


def _broken_error(broken: BrokenFrame) -> Cimd2Error:
    header = _HEADER.match(broken.head)
    opcode = int(header.group(1)) if header else None
    number = int(header.group(2)) if header and int(header.group(2)) <= c.NUMBER_MAX else None
    if broken.kind == "too_long":
        return Cimd2Error(
            int(c.Code.SYNTAX_ERROR), "packet longer than the limit", opcode=opcode, number=number
        )
    return Cimd2Error(int(c.Code.SYNTAX_ERROR), "packet without ETX", opcode=opcode, number=number)


class Cimd2Decoder:
    __slots__ = ("_splitter",)

    def __init__(self, frame_size_bytes_max: int = c.FRAME_SIZE_BYTES_MAX_DEFAULT) -> None:
        self._splitter = StxEtxSplitter(frame_size_bytes_max)

    @property
    def buffered(self) -> int:
        return self._splitter.buffered

    def feed(self, data: bytes) -> list[Message | Cimd2Error]:
        out: list[Message | Cimd2Error] = []
        for item in self._splitter.feed(data):
            if isinstance(item, BrokenFrame):
                out.append(_broken_error(item))
                continue
            try:
                out.append(decode_frame(item))
            except Cimd2Error as exc:
                out.append(exc)
        return out

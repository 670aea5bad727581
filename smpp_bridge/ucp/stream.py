"""Framing: split a TCP byte stream into STX ... ETX frames, resynchronising on STX.

UCP and CIMD2 frame the same way, so :class:`StxEtxSplitter` serves both (``smpp_bridge.cimd2``
imports it from here). Rules, identical whatever the chunking of the input:

* octets outside a frame (before an STX) are ignored, as both specifications ask;
* an STX inside a frame ends that frame as *unterminated* and starts a new one;
* a frame longer than ``frame_size_bytes_max`` (STX and ETX included) is reported once as
  *too long* and skipped up to its ETX (or the next STX).

Broken frames come back as :class:`BrokenFrame` values carrying the first octets of the frame, so
the protocol layer can still read a header and answer it. The buffer never holds more than one
partial frame, so memory per connection is bounded by ``frame_size_bytes_max``.

:class:`FrameDecoder` is the UCP decoder on top: ``feed(data)`` returns, in order, a decoded
operation or result, or a :class:`~.errors.UcpError` *value* for every complete frame so far.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from . import constants as c
from .codec import decode_frame
from .errors import UcpError
from .operations import Message

HEAD_BYTES: Final = 32  # octets of a broken frame kept to read its header
FRAME_SIZE_MIN_LIMIT: Final = 2 * HEAD_BYTES


@dataclass(frozen=True, slots=True)
class BrokenFrame:
    """A frame that could not be delimited: ``too_long`` or ``unterminated`` (an STX before ETX)."""

    kind: Literal["too_long", "unterminated"]
    head: bytes


class StxEtxSplitter:
    __slots__ = ("_buffer", "_in_frame", "_max", "_skipping", "discarded")

    def __init__(self, frame_size_bytes_max: int) -> None:
        if frame_size_bytes_max < FRAME_SIZE_MIN_LIMIT:
            raise ValueError(f"frame_size_bytes_max must be at least {FRAME_SIZE_MIN_LIMIT}")
        self._max = frame_size_bytes_max
        self._buffer = bytearray()
        self._in_frame = False
        self._skipping = False
        self.discarded = 0  # octets seen outside any frame

    @property
    def buffered(self) -> int:
        """Octets held for an incomplete frame."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes | BrokenFrame]:
        out: list[bytes | BrokenFrame] = []
        pos, size = 0, len(data)
        while pos < size:
            if not self._in_frame:
                stx = data.find(c.STX, pos)
                if stx < 0:
                    self.discarded += size - pos
                    break
                self.discarded += stx - pos
                self._start()
                pos = stx + 1
                continue
            pos = self._consume(data, pos, out)
        return out

    def _start(self) -> None:
        self._in_frame = True
        self._skipping = False
        self._buffer.clear()
        self._buffer.append(c.STX)

    def _end(self) -> None:
        self._in_frame = False
        self._skipping = False
        self._buffer.clear()

    def _consume(self, data: bytes, pos: int, out: list[bytes | BrokenFrame]) -> int:
        """Take octets of the current frame from ``pos``; return where to continue."""
        etx = data.find(c.ETX, pos)
        stx = data.find(c.STX, pos, etx if etx >= 0 else len(data))
        end = stx if stx >= 0 else etx if etx >= 0 else len(data)
        if not self._skipping:
            room = self._max - 1 - len(self._buffer)  # one octet stays for the ETX
            if end - pos > room:
                head = (bytes(self._buffer) + data[pos : pos + HEAD_BYTES])[:HEAD_BYTES]
                out.append(BrokenFrame("too_long", head))
                self._skipping = True
                self._buffer.clear()
            else:
                self._buffer += data[pos:end]
        if stx >= 0:
            if not self._skipping:
                out.append(BrokenFrame("unterminated", bytes(self._buffer[:HEAD_BYTES])))
            self._end()
            return stx
        if etx >= 0:
            if not self._skipping:
                self._buffer.append(c.ETX)
                out.append(bytes(self._buffer))
            self._end()
            return etx + 1
        return len(data)


def _broken_error(broken: BrokenFrame) -> UcpError:
    body = broken.head[1:]
    trn = int(body[0:2]) if body[0:2].isdigit() else None
    header_ok = len(body) >= c.HEADER_SIZE and body[2:3] == body[8:9] == body[10:11] == body[13:14] == b"/"
    o_r = chr(body[9]) if header_ok and body[9] in b"OR" else None
    ot = int(body[11:13]) if header_ok and body[11:13].isdigit() else None
    if broken.kind == "too_long":
        return UcpError(int(c.Ec.MESSAGE_TOO_LONG), "frame longer than the limit", trn=trn, ot=ot, o_r=o_r)
    return UcpError(int(c.Ec.SYNTAX_ERROR), "frame without ETX", trn=trn, ot=ot, o_r=o_r)


class FrameDecoder:
    """UCP frames from a byte stream; see the module docstring."""

    __slots__ = ("_splitter",)

    def __init__(self, frame_size_bytes_max: int = c.FRAME_SIZE_BYTES_MAX_DEFAULT) -> None:
        self._splitter = StxEtxSplitter(frame_size_bytes_max)

    @property
    def buffered(self) -> int:
        return self._splitter.buffered

    def feed(self, data: bytes) -> list[Message | UcpError]:
        out: list[Message | UcpError] = []
        for item in self._splitter.feed(data):
            if isinstance(item, BrokenFrame):
                out.append(_broken_error(item))
                continue
            try:
                out.append(decode_frame(item))
            except UcpError as exc:
                out.append(exc)
        return out

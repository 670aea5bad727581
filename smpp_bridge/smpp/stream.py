"""Framing: split a TCP byte stream into PDUs.

``PduDecoder.feed(data)`` returns, in order, a decoded :class:`Pdu` or an :class:`SmppError`
*value* for every complete PDU in the stream so far. Errors are returned, not raised, so one bad
PDU does not hide the good ones that arrived in the same read.

* A ``command_length`` below 16 or above ``pdu_size_bytes_max`` is *fatal* (the stream can no
  longer be framed): the error has ``fatal=True`` and the decoder ignores everything after it.
  The length is judged once the full 16-octet header is in, so the offending sequence number
  can be echoed and the result does not depend on how the bytes were chunked.
* Anything else (unknown command_id, malformed body) is per-PDU and framing continues.

The buffer never holds more than one partial PDU, so memory per connection is bounded by
``pdu_size_bytes_max``; a PDU is copied at most once however it was chunked.
"""

from __future__ import annotations

from typing import Final

from . import constants as c
from .codec import HEADER, decode_body
from .errors import SmppError
from .pdus import Pdu

PDU_SIZE_BYTES_MAX_DEFAULT: Final = 64 * 1024


class PduDecoder:
    __slots__ = ("_buffer", "_failed", "_max", "_need")

    def __init__(self, pdu_size_bytes_max: int = PDU_SIZE_BYTES_MAX_DEFAULT) -> None:
        if pdu_size_bytes_max < c.HEADER_SIZE:
            raise ValueError(f"pdu_size_bytes_max must be at least {c.HEADER_SIZE}")
        self._max = pdu_size_bytes_max
        self._buffer = bytearray()
        self._need = c.HEADER_SIZE
        self._failed = False

    @property
    def failed(self) -> bool:
        """True after a fatal framing error; the connection must be closed."""
        return self._failed

    @property
    def buffered(self) -> int:
        """Octets held for an incomplete PDU."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Pdu | SmppError]:
        if self._failed or not data:
            return []
        buffer = self._buffer
        if buffer:
            buffer += data
            if len(buffer) < self._need:
                return []
            data = bytes(buffer)
            buffer.clear()
        return self._split(data)

    def _split(self, data: bytes) -> list[Pdu | SmppError]:
        out: list[Pdu | SmppError] = []
        size = len(data)
        pos = 0
        need = c.HEADER_SIZE
        while size - pos >= c.HEADER_SIZE:
            length, command_id, status, seq = HEADER.unpack_from(data, pos)
            if length < c.HEADER_SIZE or length > self._max:
                self._failed = True
                message = f"command_length {length} outside 16..{self._max}"
                out.append(SmppError(c.ESME_RINVCMDLEN, seq, message, command_id=command_id, fatal=True))
                return out
            end = pos + length
            if end > size:
                need = length
                break
            pdu_bytes = data if length == size else data[pos:end]
            try:
                out.append(decode_body(pdu_bytes, command_id, status, seq))
            except SmppError as exc:
                out.append(exc)
            pos = end
        if pos < size:
            self._buffer += memoryview(data)[pos:]
            self._need = need
        return out

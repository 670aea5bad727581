"""The one exception type of the CIMD2 core.

Every protocol problem, whether found while decoding bytes from a peer, while encoding a packet the
application built, or when the application asks for something the session state forbids, is a
:class:`Cimd2Error` carrying the error code (parameter 900) to answer with. Any other exception
escaping ``smpp_bridge.cimd2`` is a bug; the fuzz tests assert exactly that.
"""

from __future__ import annotations

from .constants import code_name


class Cimd2Error(Exception):
    """A protocol error with the code to answer with.

    ``opcode`` and ``number`` identify the offending packet as far as its header could be read
    (``None`` otherwise). ``transmission`` marks errors the specification answers with a NACK
    (packet 99) rather than a response: a wrong checksum. ``throttled`` marks the one local refusal
    that means "wait and retry": a full window.
    """

    __slots__ = ("code", "message", "number", "opcode", "throttled", "transmission")

    def __init__(
        self,
        code: int,
        message: str,
        *,
        opcode: int | None = None,
        number: int | None = None,
        transmission: bool = False,
        throttled: bool = False,
    ) -> None:
        super().__init__(f"{code_name(code)}: {message}")
        self.code = code
        self.message = message
        self.opcode = opcode
        self.number = number
        self.transmission = transmission
        self.throttled = throttled

    def key(self) -> tuple[int, str, int | None, int | None, bool, bool]:
        """A comparable identity (exceptions compare by object identity)."""
        return (self.code, self.message, self.opcode, self.number, self.transmission, self.throttled)

"""The one exception type of the UCP core.

Every protocol problem, whether found while decoding bytes from a peer, while encoding an
operation the application built, or when the application asks for something the session state
forbids, is a :class:`UcpError` carrying the error code (EC) to answer with. Any other exception
escaping ``smpp_bridge.ucp`` is a bug; the fuzz tests assert exactly that.
"""

from __future__ import annotations

from .constants import ec_name


class UcpError(Exception):
    """A protocol error with the EC of the negative result to answer with.

    ``trn``, ``ot`` and ``o_r`` identify the offending frame as far as its header could be read
    (``None`` otherwise). A frame is *answerable* when all three are known and it is an
    operation (``o_r == "O"``): the session then sends a negative result with ``ec``; anything else
    is dropped, as the specification says for frames whose header cannot be read.
    ``throttled`` marks the one local refusal that means "wait and retry": a full window.
    """

    __slots__ = ("ec", "message", "o_r", "ot", "throttled", "trn")

    def __init__(
        self,
        ec: int,
        message: str,
        *,
        trn: int | None = None,
        ot: int | None = None,
        o_r: str | None = None,
        throttled: bool = False,
    ) -> None:
        super().__init__(f"{ec_name(ec)}: {message}")
        self.ec = ec
        self.message = message
        self.trn = trn
        self.ot = ot
        self.o_r = o_r
        self.throttled = throttled

    @property
    def answerable(self) -> bool:
        return self.trn is not None and self.ot is not None and self.o_r == "O"

    def key(self) -> tuple[int, str, int | None, int | None, str | None, bool]:
        """A comparable identity (exceptions compare by object identity)."""
        return (self.ec, self.message, self.trn, self.ot, self.o_r, self.throttled)

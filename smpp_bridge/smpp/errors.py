"""The one exception type of the SMPP core.

Every protocol problem, whether found while decoding bytes from a peer, while encoding a PDU the
application built, or when the application asks for something the session state forbids, is an
:class:`SmppError` carrying the ``command_status`` to answer with. Any other exception escaping
``smpp_bridge.smpp`` is a bug; the fuzz tests assert exactly that.
"""

from __future__ import annotations

from .constants import status_name


class SmppError(Exception):
    """A protocol error with the status to answer with.

    ``sequence_number`` and ``command_id`` identify the offending PDU when known (0 otherwise).
    ``fatal`` means the byte stream can no longer be framed (bad ``command_length``): the
    session answers ``generic_nack`` and closes.
    """

    __slots__ = ("command_id", "fatal", "message", "sequence_number", "status")

    def __init__(
        self,
        status: int,
        sequence_number: int,
        message: str,
        *,
        command_id: int = 0,
        fatal: bool = False,
    ) -> None:
        super().__init__(f"{status_name(status)}: {message}")
        self.status = status
        self.sequence_number = sequence_number
        self.message = message
        self.command_id = command_id
        self.fatal = fatal

    def key(self) -> tuple[int, int, int, bool, str]:
        """A comparable identity (exceptions compare by object identity)."""
        return (self.status, self.sequence_number, self.command_id, self.fatal, self.message)

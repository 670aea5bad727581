"""The one exception type the text layer raises.

Every decoder, encoder, segmenter and the concatenation/reassembly code raise :class:`TextError`
and nothing else for bad input (the fuzz tests assert exactly that). The ``code`` lets a boundary map
the failure to its own vocabulary in one place (SMPP ``ESME_RINVMSGLEN`` for ``TOO_LONG``, an HTTP
problem type, ...) without parsing the message. Invalid *arguments from code* (a ``segments_max`` of
0, a negative timeout) are programming errors and raise ``ValueError`` instead.
"""

from __future__ import annotations

from enum import StrEnum


class TextErrorCode(StrEnum):
    """Why a text operation failed."""

    INVALID_BYTES = "invalid_bytes"  # payload bytes are not valid in the alphabet
    UNENCODABLE = "unencodable"  # a character has no representation in the alphabet
    BINARY = "binary"  # 8-bit data coding: not text, never decoded
    UNSUPPORTED_CODING = "unsupported_coding"  # a data_coding value we do not decode
    TOO_LONG = "too_long"  # more segments (or parts) than the limit allows
    BAD_UDH = "bad_udh"  # malformed user data header
    BAD_PART = "bad_part"  # inconsistent concatenation values (seq 0, seq > total, ...)


class TextError(ValueError):
    """Bad text input: ``code`` says why, the message says where."""

    def __init__(self, code: TextErrorCode, message: str) -> None:
        super().__init__(f"{code.value}: {message}")
        self.code = code
        self.reason = message

"""The pure text layer: GSM 03.38 / UCS-2 / Latin-1 codecs, segmentation and keyword folding.

Data flow: inbound payload bytes + ``data_coding`` -> :func:`decode_payload` -> text ->
:func:`first_word` / :func:`fold_keyword` for routing; outbound text -> :func:`plan_segments`
(GSM 7-bit when possible, UCS-2 otherwise) -> segment payloads for the SMPP/UCP/HTTP adapters;
:func:`count_segments` prices a text without building it. Concatenation headers and reassembly are
in :mod:`smsbilling.domain.concat`, addresses in :mod:`smsbilling.domain.msisdn`.

Only :class:`TextError` escapes for bad input; see :mod:`.coding` for the invalid-bytes policy.
"""

from smsbilling.domain.text.coding import (
    DATA_CODING,
    Alphabet,
    alphabet_for,
    decode_payload,
    decode_text,
    encode_payload,
    encode_text,
    ucs2_decode,
    ucs2_encode,
    ucs2_units,
)
from smsbilling.domain.text.errors import TextError, TextErrorCode
from smsbilling.domain.text.fold import DEFAULT_CONFUSABLES, build_fold_table, first_word, fold_keyword
from smsbilling.domain.text.gsm7 import (
    EXTENSION_CHARACTERS,
    GSM7_CHARACTERS,
    Errors,
    gsm7_decode,
    gsm7_encode,
    gsm7_fill_bits,
    gsm7_pack,
    gsm7_septets,
    gsm7_unpack,
    is_gsm7,
)
from smsbilling.domain.text.segments import (
    SegmentPlan,
    capacity,
    choose_alphabet,
    count_segments,
    plan_segments,
)

__all__ = [
    "DATA_CODING",
    "DEFAULT_CONFUSABLES",
    "EXTENSION_CHARACTERS",
    "GSM7_CHARACTERS",
    "Alphabet",
    "Errors",
    "SegmentPlan",
    "TextError",
    "TextErrorCode",
    "alphabet_for",
    "build_fold_table",
    "capacity",
    "choose_alphabet",
    "count_segments",
    "decode_payload",
    "decode_text",
    "encode_payload",
    "encode_text",
    "first_word",
    "fold_keyword",
    "gsm7_decode",
    "gsm7_encode",
    "gsm7_fill_bits",
    "gsm7_pack",
    "gsm7_septets",
    "gsm7_unpack",
    "is_gsm7",
    "plan_segments",
    "ucs2_decode",
    "ucs2_encode",
    "ucs2_units",
]

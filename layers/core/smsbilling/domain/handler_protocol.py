"""What the platform sends to a partner's HTTP handler, how it reads the answer, when it retries.

Sans-I/O, in the manner of h11: :func:`build_request` turns an MO into a :class:`HandlerRequest`
(method, URL, headers, body bytes), :func:`classify` turns what came back (status, headers, body)
into a :class:`DeliveryResult`, and :func:`plan_next` decides, from that result and the attempt
number, whether the delivery is finished, retried after a delay or dead-lettered. The transport
(``adapters.http_delivery``) only moves bytes and reports a :class:`TransportError`; the
retry schedule never sees a socket. The clock (``now``, Unix seconds) and the jitter source are
arguments.

Wire format (documented for partners in ``docs/partner-callbacks.md``):

- ``http_get``: the partner's URL with our parameters appended after its own query; the
  signature covers the query string exactly as sent (everything after ``?``), so a GET is as
  verifiable as a POST. Reserved parameter names in the partner's own query are refused.
- ``http_post_sync`` / ``http_post_async``: a compact UTF-8 JSON object (same field names, plus
  ``schema_version``), ``Content-Type: application/json``; the signature covers the raw body.
- A sync answer is ``text/plain`` (the whole body is the reply) or ``application/json``
  ``{"reply": str | null, "billing": "charge" | "free"}`` (unknown keys refused, so a typo is a
  visible failure rather than a silent "no reply"). An async handler only acknowledges (2xx).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Literal
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

from smsbilling.domain.entities import HandlerKind
from smsbilling.domain.signing import SIGNATURE_HEADER, sign
from smsbilling.settings import PartnerDeliveryLimits

MESSAGE_ID_HEADER = "X-Smsbilling-Message-Id"
ATTEMPT_HEADER = "X-Smsbilling-Delivery-Attempt"
USER_AGENT = "smsbilling-delivery/1"
SCHEMA_VERSION = 1
HANDLER_URL_CHARS_MAX = 2048
RETRY_AFTER_S_PARSED_MAX = 86_400  # anything longer is clamped; the schedule caps it again
# The parameters (GET) and keys (JSON) partners receive, in this order.
WIRE_FIELDS = (
    *("message_id", "msisdn", "short_number", "text", "operator"),
    *("service_id", "prefix", "test", "timestamp"),
)
HTTP_KINDS = frozenset({HandlerKind.HTTP_GET, HandlerKind.HTTP_POST_SYNC, HandlerKind.HTTP_POST_ASYNC})

_URL_CHARS = re.compile(r"[\x21-\x7e]+", re.ASCII)  # printable ASCII: IDN hosts go in punycode
_LONE_SURROGATES = re.compile(r"[\ud800-\udfff]")
_FORBIDDEN_REPLY_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_CHARSETS = {
    "utf-8": "utf-8",
    "utf8": "utf-8",
    "us-ascii": "ascii",
    "ascii": "ascii",
    "iso-8859-1": "latin-1",
    "latin-1": "latin-1",
    "latin1": "latin-1",
    "windows-1251": "cp1251",
    "cp1251": "cp1251",
    "koi8-r": "koi8-r",
}


class HandlerMo(BaseModel):
    """An MO as a partner's handler receives it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    message_id: str = Field(min_length=1, max_length=64)
    msisdn: str = Field(min_length=1, max_length=32)
    short_number: str = Field(min_length=1, max_length=32)
    text: str = Field(max_length=2000)
    operator_id: str = Field(min_length=1, max_length=64)
    received_at: AwareDatetime
    is_test: bool = False
    service_id: str = Field(min_length=1, max_length=64)
    prefix: str = Field(min_length=1, max_length=32)

    @field_validator("text", mode="before")
    @classmethod
    def _no_lone_surrogates(cls, text: object) -> object:
        """A badly formed UCS-2 message may decode to unpaired surrogates; UTF-8 cannot carry them."""
        if not isinstance(text, str):
            return text
        return _LONE_SURROGATES.sub(
            "\ufffd", text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        )

    def wire_fields(self) -> list[tuple[str, str | bool]]:
        timestamp = self.received_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        values: tuple[str | bool, ...] = (
            self.message_id,
            self.msisdn,
            self.short_number,
            self.text,
            self.operator_id,
            self.service_id,
            self.prefix,
            self.is_test,
            timestamp,
        )
        return list(zip(WIRE_FIELDS, values, strict=True))


class HandlerUrlError(ValueError):
    """A handler URL the platform will not call (also usable when a partner registers it)."""


class Reason(StrEnum):
    OK = "ok"
    ACCEPTED = "accepted"  # an async handler acknowledged; the reply comes through the API
    TIMEOUT = "timeout"
    CONNECTION_FAILED = "connection failed"
    TLS_FAILED = "tls failed"
    INVALID_RESPONSE = "invalid http response"
    SERVER_ERROR = "server error"  # 5xx
    REQUEST_TIMEOUT = "request timeout"  # 408
    RATE_LIMITED = "rate limited"  # 429
    REJECTED = "rejected by handler"  # other 4xx
    REDIRECT = "redirect not followed"
    UNEXPECTED_STATUS = "unexpected status"
    UNREADABLE_REPLY = "unreadable reply"
    REPLY_TOO_LONG = "reply too long"
    RESPONSE_TOO_LARGE = "response too large"
    INVALID_URL = "invalid handler url"
    NOT_HTTP = "not an http handler"
    NO_SIGNING_SECRET = "no signing secret"  # noqa: S105 - a reason, not a secret


class Outcome(StrEnum):
    SUCCESS = "success"
    RETRYABLE = "retryable"
    PERMANENT = "permanent"


class Billing(StrEnum):
    CHARGE = "charge"
    FREE = "free"


class TransportError(Exception):
    """Raised by an HttpClient (ports.py) when no HTTP response came back (or the URL was refused)."""

    def __init__(self, reason: Reason, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class HandlerRequest:
    method: Literal["GET", "POST"]
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass(frozen=True)
class RawResponse:
    """What came back, as read by the transport: ``body`` holds at most the limit + 1 bytes."""

    status: int
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class HandlerAnswer:
    reply_text: str | None  # None: the handler chose not to answer
    billing: Billing | None = None  # None: the service's default


@dataclass(frozen=True)
class DeliveryResult:
    outcome: Outcome
    reason: Reason
    status: int | None = None
    answer: HandlerAnswer | None = None  # sync handlers, on success
    retry_after_s: int | None = None
    detail: str = ""


class _AnswerRejected(Exception):
    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class _JsonAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    reply: str | None
    billing: Billing | None = None


# --- building requests ---------------------------------------------------------------------------
def validate_handler_url(url: str, kind: HandlerKind) -> str:
    """The URL without its fragment, or HandlerUrlError: http(s) only, no credentials, ASCII only."""
    if not url or len(url) > HANDLER_URL_CHARS_MAX or not _URL_CHARS.fullmatch(url):
        raise HandlerUrlError("empty, too long, or not printable ASCII (use punycode and %-escapes)")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as error:
        raise HandlerUrlError(f"not a URL: {error}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HandlerUrlError("only http:// and https:// URLs with a host")
    if parts.username is not None or parts.password is not None:
        raise HandlerUrlError("credentials in the URL are not allowed")
    if kind is HandlerKind.HTTP_GET:
        taken = {name for name, _ in parse_qsl(parts.query, keep_blank_values=True)} & set(WIRE_FIELDS)
        if taken:
            raise HandlerUrlError(f"reserved query parameter(s): {', '.join(sorted(taken))}")
    return urlunsplit(parts._replace(fragment=""))


def get_query(mo: HandlerMo) -> str:
    """Our query parameters, in a fixed order, UTF-8 and %-encoded (space is %20)."""
    pairs = [
        (name, ("1" if value else "0") if isinstance(value, bool) else value)
        for name, value in mo.wire_fields()
    ]
    return urlencode(pairs, quote_via=quote)


def json_body(mo: HandlerMo) -> bytes:
    document: dict[str, object] = {"schema_version": SCHEMA_VERSION, **dict(mo.wire_fields())}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def build_request(
    mo: HandlerMo, kind: HandlerKind, url: str, *, secrets: Sequence[str], now: int, attempt: int = 1
) -> HandlerRequest:
    """The signed request for one attempt. HandlerUrlError for a bad URL or a non-HTTP kind;
    SignatureError when there is no usable secret."""
    if kind not in HTTP_KINDS:
        raise HandlerUrlError(f"{kind.value} is not an HTTP handler")
    target = validate_handler_url(url, kind)
    headers = [(MESSAGE_ID_HEADER, mo.message_id), (ATTEMPT_HEADER, str(attempt)), ("User-Agent", USER_AGENT)]
    if kind is HandlerKind.HTTP_GET:
        parts = urlsplit(target)
        own = parts.query.rstrip("&")
        query = f"{own}&{get_query(mo)}" if own else get_query(mo)
        signature = sign(query.encode("ascii"), secrets, now)
        headers += [("Accept", "text/plain, application/json"), (SIGNATURE_HEADER, signature)]
        return HandlerRequest("GET", urlunsplit(parts._replace(query=query)), tuple(headers), b"")
    body = json_body(mo)
    headers += [("Content-Type", "application/json"), (SIGNATURE_HEADER, sign(body, secrets, now))]
    if kind is HandlerKind.HTTP_POST_SYNC:
        headers.append(("Accept", "text/plain, application/json"))
    return HandlerRequest("POST", target, tuple(headers), body)


# --- reading answers -----------------------------------------------------------------------------
def header_value(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), None)


def _media_type(headers: Mapping[str, str]) -> tuple[str, str | None]:
    main, *params = (header_value(headers, "content-type") or "").split(";")
    charset = None
    for param in params:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    return main.strip().lower(), charset


def _decode(body: bytes, charset: str | None) -> str:
    codec = _CHARSETS.get(charset or "utf-8")
    if codec is None:
        raise _AnswerRejected(Reason.UNREADABLE_REPLY, f"unsupported charset {charset!r}")
    try:
        return body.decode(codec)
    except UnicodeDecodeError:
        raise _AnswerRejected(Reason.UNREADABLE_REPLY, f"body is not valid {codec}") from None


def _json_answer(body: bytes) -> HandlerAnswer:
    try:
        parsed = _JsonAnswer.model_validate_json(body.removeprefix(b"\xef\xbb\xbf"))
    except ValidationError as error:
        raise _AnswerRejected(
            Reason.UNREADABLE_REPLY, f"JSON reply: {error.error_count()} error(s)"
        ) from None
    return HandlerAnswer(parsed.reply, parsed.billing)


def _checked(answer: HandlerAnswer, reply_chars_max: int) -> HandlerAnswer:
    text = (answer.reply_text or "").replace("\r\n", "\n").strip()
    if _FORBIDDEN_REPLY_CHARS.search(text):
        raise _AnswerRejected(Reason.UNREADABLE_REPLY, "control characters in the reply")
    if len(text) > reply_chars_max:
        raise _AnswerRejected(Reason.REPLY_TOO_LONG, f"{len(text)} chars, the limit is {reply_chars_max}")
    return HandlerAnswer(text or None, answer.billing)


def read_sync_answer(headers: Mapping[str, str], body: bytes, *, reply_chars_max: int) -> HandlerAnswer:
    """The reply in a sync handler's 2xx body; _AnswerRejected if it cannot be sent to a subscriber.

    ``text/html`` is read as plain text when it holds no markup: PHP and many CGI scripts send
    that type by default for an ``echo "Thank you"``.
    """
    if not body.strip():
        return HandlerAnswer(None)
    media, charset = _media_type(headers)
    if media == "application/json" or media.endswith("+json"):
        return _checked(_json_answer(body), reply_chars_max)
    if media not in ("", "text/plain", "text/html"):
        raise _AnswerRejected(Reason.UNREADABLE_REPLY, f"unsupported content type {media!r}")
    text = _decode(body, charset)
    if media == "text/html" and ("<" in text or ">" in text):
        raise _AnswerRejected(Reason.UNREADABLE_REPLY, "HTML markup in the reply")
    return _checked(HandlerAnswer(text), reply_chars_max)


def parse_retry_after(value: str | None, now: int) -> int | None:
    """``Retry-After`` as seconds from ``now`` (delta-seconds or an HTTP date); None if absent or bad."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return min(int(value[:9]), RETRY_AFTER_S_PARSED_MAX)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        return None
    delta = math.ceil(when.timestamp() - now)
    return max(0, min(delta, RETRY_AFTER_S_PARSED_MAX))


def _success(
    kind: HandlerKind, status: int, headers: Mapping[str, str], body: bytes, limits: PartnerDeliveryLimits
) -> DeliveryResult:
    if kind is HandlerKind.HTTP_POST_ASYNC:
        return DeliveryResult(Outcome.SUCCESS, Reason.ACCEPTED, status)
    if len(body) > limits.response_body_bytes_max:
        detail = f"more than {limits.response_body_bytes_max} bytes"
        return DeliveryResult(Outcome.PERMANENT, Reason.RESPONSE_TOO_LARGE, status, detail=detail)
    try:
        answer = read_sync_answer(headers, body, reply_chars_max=limits.reply_chars_max)
    except _AnswerRejected as rejected:
        return DeliveryResult(Outcome.PERMANENT, rejected.reason, status, detail=rejected.detail)
    return DeliveryResult(Outcome.SUCCESS, Reason.OK, status, answer=answer)


def classify(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    kind: HandlerKind,
    now: int,
    limits: PartnerDeliveryLimits,
) -> DeliveryResult:
    """The outcome of one attempt that got an HTTP response. Never raises for any input."""
    if kind not in HTTP_KINDS:
        return DeliveryResult(Outcome.PERMANENT, Reason.NOT_HTTP, status)
    if 200 <= status < 300:
        return _success(kind, status, headers, body, limits)
    retryable = {408: Reason.REQUEST_TIMEOUT, 429: Reason.RATE_LIMITED}.get(status)
    if retryable is None and 500 <= status < 600:
        retryable = Reason.SERVER_ERROR
    if retryable is not None:
        retry_after = parse_retry_after(header_value(headers, "retry-after"), now)
        return DeliveryResult(Outcome.RETRYABLE, retryable, status, retry_after_s=retry_after)
    if 300 <= status < 400:
        location = (header_value(headers, "location") or "")[:200]
        return DeliveryResult(Outcome.PERMANENT, Reason.REDIRECT, status, detail=f"to {location!r}")
    reason = Reason.REJECTED if 400 <= status < 500 else Reason.UNEXPECTED_STATUS
    return DeliveryResult(Outcome.PERMANENT, reason, status)


def transport_failure(error: TransportError) -> DeliveryResult:
    """No response: retryable, except a URL the transport refused to call."""
    outcome = Outcome.PERMANENT if error.reason is Reason.INVALID_URL else Outcome.RETRYABLE
    return DeliveryResult(outcome, error.reason, detail=error.detail)


# --- retry schedule ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Finished:
    result: DeliveryResult


@dataclass(frozen=True)
class RetryLater:
    attempt: int  # the number of the next attempt
    delay_s: int
    last: DeliveryResult


@dataclass(frozen=True)
class DeadLetter:
    attempts: int
    reason: Reason
    last: DeliveryResult


NextStep = Finished | RetryLater | DeadLetter


def next_attempt_delay_s(
    attempt: int,
    retry_after_s: int | None = None,
    *,
    base_s: float,
    max_s: float,
    random: Callable[[], float],
) -> float:
    """Seconds to wait after failed attempt ``attempt`` (1-based): full jitter over an exponential
    ceiling ``min(max_s, base_s * 2**(attempt-1))``, never less than the partner's Retry-After
    (itself capped at ``max_s``). ``random`` returns floats in [0, 1)."""
    if attempt < 1:
        raise ValueError("attempts are numbered from 1")
    draw = random()
    if not 0.0 <= draw < 1.0:
        raise ValueError("the random source must return a float in [0, 1)")
    ceiling = min(max_s, base_s * 2.0 ** min(attempt - 1, 64))
    delay = draw * ceiling
    if retry_after_s is not None:
        delay = max(delay, float(min(max(retry_after_s, 0), max_s)))
    return delay


def plan_next(
    result: DeliveryResult, attempt: int, *, limits: PartnerDeliveryLimits, random: Callable[[], float]
) -> NextStep:
    """What to do after attempt ``attempt`` ended with ``result``."""
    if result.outcome is Outcome.SUCCESS:
        return Finished(result)
    if result.outcome is Outcome.PERMANENT or attempt >= limits.attempts_max:
        return DeadLetter(attempt, result.reason, result)
    delay = next_attempt_delay_s(
        attempt,
        result.retry_after_s,
        base_s=limits.retry_backoff_base_s,
        max_s=limits.retry_backoff_max_s,
        random=random,
    )
    return RetryLater(attempt + 1, math.ceil(delay), result)

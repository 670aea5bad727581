"""The handler protocol: the requests partners receive, how answers are read and classified."""

from __future__ import annotations

import json
from email.utils import formatdate
from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsbilling.domain.entities import HandlerKind
from smsbilling.domain.handler_protocol import (
    WIRE_FIELDS,
    Billing,
    DeliveryResult,
    HandlerAnswer,
    HandlerUrlError,
    Outcome,
    Reason,
    build_request,
    classify,
    parse_retry_after,
    validate_handler_url,
)
from smsbilling.domain.signing import SignatureError, verify
from smsbilling.settings import PartnerDeliveryLimits

from .helpers import NOW, SECRET, make_mo

LIMITS = PartnerDeliveryLimits()
GET, SYNC, ASYNC = HandlerKind.HTTP_GET, HandlerKind.HTTP_POST_SYNC, HandlerKind.HTTP_POST_ASYNC
TEXT = {"content-type": "text/plain; charset=utf-8"}
JSON = {"content-type": "application/json"}


def expected_fields(test: str = "0") -> dict[str, str]:
    return {
        "message_id": "mo_01J0000000000000000000000",
        "msisdn": "+447700900123",
        "short_number": "4444",
        "text": "ABC hello & bye = 100% Привет 😀",
        "operator": "demo-mobile",
        "service_id": "svc-abc",
        "prefix": "ABC",
        "test": test,
        "timestamp": "2024-06-10T06:13:20Z",
    }


# --- requests ------------------------------------------------------------------------------------
def test_get_appends_our_parameters_after_the_partners_own_and_signs_the_query() -> None:
    request = build_request(
        make_mo(), GET, "https://partner.example/sms.php?key=k1#frag", secrets=[SECRET], now=NOW
    )
    parts = urlsplit(request.url)
    assert (request.method, parts.scheme, parts.netloc, parts.path, parts.fragment) == (
        "GET", "https", "partner.example", "/sms.php", "",
    )  # fmt: skip
    assert parts.query.startswith("key=k1&message_id=")
    assert dict(parse_qsl(parts.query)) == {"key": "k1", **expected_fields()}
    assert [name for name, _ in parse_qsl(parts.query)] == ["key", *WIRE_FIELDS]
    assert "%20" in parts.query and "+" not in parts.query  # RFC 3986 escaping, UTF-8
    headers = dict(request.headers)
    assert request.body == b""
    assert headers["X-Smsbilling-Message-Id"] == "mo_01J0000000000000000000000"
    verify(parts.query.encode(), headers["X-Smsbilling-Signature"], [SECRET], NOW)


@pytest.mark.parametrize(
    ("url", "query_start"),
    [
        ("http://p.example/h", "message_id="),
        ("http://p.example/h?", "message_id="),
        ("http://p.example/h?a=1&", "a=1&message_id="),
    ],
)
def test_get_query_joins_cleanly(url: str, query_start: str) -> None:
    assert urlsplit(build_request(make_mo(), GET, url, secrets=[SECRET], now=NOW).url).query.startswith(
        query_start
    )


def test_test_flag_is_one_or_zero_on_get_and_a_boolean_in_json() -> None:
    get = build_request(make_mo(is_test=True), GET, "http://p.example/", secrets=[SECRET], now=NOW)
    assert dict(parse_qsl(urlsplit(get.url).query))["test"] == "1"
    post = build_request(make_mo(is_test=True), SYNC, "http://p.example/", secrets=[SECRET], now=NOW)
    assert json.loads(post.body)["test"] is True


@pytest.mark.parametrize("kind", [SYNC, ASYNC])
def test_post_is_compact_utf8_json_signed_over_the_raw_body(kind: HandlerKind) -> None:
    request = build_request(make_mo(), kind, "https://partner.example/mo?key=k1", secrets=[SECRET], now=NOW)
    assert (request.method, request.url) == ("POST", "https://partner.example/mo?key=k1")
    document = json.loads(request.body)
    assert list(document) == ["schema_version", *WIRE_FIELDS]
    assert document == {"schema_version": 1, **expected_fields(), "test": False}
    assert "Привет".encode() in request.body  # UTF-8, not \u escapes
    headers = dict(request.headers)
    assert headers["Content-Type"] == "application/json"
    verify(request.body, headers["X-Smsbilling-Signature"], [SECRET], NOW)
    with pytest.raises(SignatureError):
        verify(request.body + b" ", headers["X-Smsbilling-Signature"], [SECRET], NOW)


def test_rotation_puts_two_signatures_in_the_header() -> None:
    request = build_request(make_mo(), SYNC, "https://p.example/", secrets=[SECRET, SECRET + "-new"], now=NOW)
    assert dict(request.headers)["X-Smsbilling-Signature"].count("v1=") == 2


def test_lone_surrogates_in_the_text_become_replacement_characters() -> None:
    request = build_request(make_mo(text="a\ud800b"), SYNC, "https://p.example/", secrets=[SECRET], now=NOW)
    assert json.loads(request.body)["text"] == "a\ufffdb"


@pytest.mark.parametrize(
    "url",
    [
        "",
        "ftp://p.example/x",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "http://",
        "http:///path",
        "https://user:pw@p.example/",
        "https://p.example/a b",
        "https://p.example/é",
        "https://p.example:99999/",
        "https://[::1/",
        "https://p.example/" + "a" * 2048,
    ],
)
def test_bad_handler_urls_are_refused(url: str) -> None:
    with pytest.raises(HandlerUrlError):
        validate_handler_url(url, SYNC)


def test_reserved_parameters_are_refused_on_get_only() -> None:
    with pytest.raises(HandlerUrlError, match="msisdn, test"):
        validate_handler_url("https://p.example/?test=1&msisdn=x", GET)
    assert validate_handler_url("https://p.example/?test=1", SYNC) == "https://p.example/?test=1"


def test_smpp_is_not_an_http_handler() -> None:
    with pytest.raises(HandlerUrlError):
        build_request(make_mo(), HandlerKind.SMPP, "http://p.example/", secrets=[SECRET], now=NOW)


# --- answers -------------------------------------------------------------------------------------
def ok(
    kind: HandlerKind, body: bytes, headers: dict[str, str] | None = None, status: int = 200
) -> DeliveryResult:
    return classify(status, headers if headers is not None else TEXT, body, kind=kind, now=NOW, limits=LIMITS)


@pytest.mark.parametrize(
    ("headers", "body", "answer"),
    [
        (TEXT, b"  Thanks!\r\nSee you \n", HandlerAnswer("Thanks!\nSee you")),
        ({}, "Спасибо".encode(), HandlerAnswer("Спасибо")),  # no content type: plain UTF-8
        (
            {"Content-Type": "text/plain; charset=windows-1251"},
            "Спасибо".encode("cp1251"),
            HandlerAnswer("Спасибо"),
        ),
        ({"content-type": 'text/plain; charset="KOI8-R"'}, "да".encode("koi8-r"), HandlerAnswer("да")),
        ({"content-type": "text/html; charset=UTF-8"}, b"Thank you", HandlerAnswer("Thank you")),  # PHP echo
        (TEXT, b"", HandlerAnswer(None)),
        (TEXT, b" \n ", HandlerAnswer(None)),
        (JSON, b'{"reply": " Hi \\u00e9 ", "billing": "free"}', HandlerAnswer("Hi é", Billing.FREE)),
        (JSON, b'\xef\xbb\xbf{"reply": "Hi", "billing": "charge"}', HandlerAnswer("Hi", Billing.CHARGE)),
        ({"content-type": "application/problem+json"}, b'{"reply": null}', HandlerAnswer(None)),
        (JSON, b'{"reply": ""}', HandlerAnswer(None)),
    ],
)
def test_sync_replies(headers: dict[str, str], body: bytes, answer: HandlerAnswer) -> None:
    for kind in (GET, SYNC):
        assert ok(kind, body, headers) == DeliveryResult(Outcome.SUCCESS, Reason.OK, 200, answer=answer)


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        (TEXT, b"\xff\xfe\x00garbage\x80"),
        (TEXT, b"ok\x00"),
        (TEXT, b"bell\x07"),
        (TEXT, "c1\u0085 in the middle".encode()),
        ({"content-type": "text/plain; charset=x-unknown"}, b"hi"),
        ({"content-type": "text/html"}, b"<html><body>Error</body></html>"),
        ({"content-type": "application/octet-stream"}, b"hi"),
        ({"content-type": "image/png"}, b"\x89PNG"),
        (JSON, b"not json"),
        (JSON, b'"just a string"'),
        (JSON, b'{"reply": 5}'),
        (JSON, b'{"reply": "hi", "billing": "maybe"}'),
        (JSON, b'{"replay": "typo"}'),
        (JSON, b'{"reply": "hi", "extra": 1}'),
        (JSON, b'{"reply": "\\ud800"}'),
        (JSON, b"[" * 5000),
    ],
)
def test_garbage_from_a_sync_handler_is_permanent_unreadable_reply(
    headers: dict[str, str], body: bytes
) -> None:
    result = ok(SYNC, body, headers)
    assert (result.outcome, result.reason, result.answer) == (
        Outcome.PERMANENT,
        Reason.UNREADABLE_REPLY,
        None,
    )
    assert result.reason == "unreadable reply"


def test_async_ignores_the_body() -> None:
    for status, body in ((202, b"\xff garbage"), (200, b""), (204, b"x" * 100_000)):
        assert ok(ASYNC, body, {}, status) == DeliveryResult(Outcome.SUCCESS, Reason.ACCEPTED, status)


def test_reply_and_body_limits() -> None:
    limits = PartnerDeliveryLimits(reply_chars_max=5, response_body_bytes_max=1024)
    assert classify(200, TEXT, b"12345", kind=SYNC, now=NOW, limits=limits).outcome is Outcome.SUCCESS
    too_long = classify(200, TEXT, b"123456", kind=SYNC, now=NOW, limits=limits)
    assert (too_long.outcome, too_long.reason) == (Outcome.PERMANENT, Reason.REPLY_TOO_LONG)
    too_large = classify(200, TEXT, b" " * 1025, kind=SYNC, now=NOW, limits=limits)
    assert (too_large.outcome, too_large.reason) == (Outcome.PERMANENT, Reason.RESPONSE_TOO_LARGE)


@pytest.mark.parametrize(
    ("status", "outcome", "reason"),
    [
        (301, Outcome.PERMANENT, Reason.REDIRECT),
        (302, Outcome.PERMANENT, Reason.REDIRECT),
        (400, Outcome.PERMANENT, Reason.REJECTED),
        (401, Outcome.PERMANENT, Reason.REJECTED),
        (404, Outcome.PERMANENT, Reason.REJECTED),
        (410, Outcome.PERMANENT, Reason.REJECTED),
        (408, Outcome.RETRYABLE, Reason.REQUEST_TIMEOUT),
        (429, Outcome.RETRYABLE, Reason.RATE_LIMITED),
        (500, Outcome.RETRYABLE, Reason.SERVER_ERROR),
        (503, Outcome.RETRYABLE, Reason.SERVER_ERROR),
        (599, Outcome.RETRYABLE, Reason.SERVER_ERROR),
        (100, Outcome.PERMANENT, Reason.UNEXPECTED_STATUS),
        (600, Outcome.PERMANENT, Reason.UNEXPECTED_STATUS),
    ],
)
def test_status_classification(status: int, outcome: Outcome, reason: Reason) -> None:
    for kind in (GET, SYNC, ASYNC):
        result = ok(kind, b"whatever", {"Location": "https://elsewhere.example/"}, status)
        assert (result.outcome, result.reason, result.status, result.answer) == (
            outcome,
            reason,
            status,
            None,
        )


def test_retry_after_is_honoured_on_retryable_statuses_only() -> None:
    assert ok(SYNC, b"", {"Retry-After": "120"}, 429).retry_after_s == 120
    assert ok(SYNC, b"", {"retry-after": "7"}, 503).retry_after_s == 7
    assert ok(SYNC, b"", {"Retry-After": "7"}, 400).retry_after_s is None
    assert ok(SYNC, b"", {}, 429).retry_after_s is None


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, None),
        ("0", 0),
        (" 30 ", 30),
        ("99999999999999999999", 86_400),
        (formatdate(NOW + 90, usegmt=True), 90),
        (formatdate(NOW - 90, usegmt=True), 0),
        ("-5", None),
        ("1.5", None),
        ("soon", None),
        ("\uff13\uff10", None),  # fullwidth digits
        ("Wed, 21 Oct 2015 07:28:00", None),  # no zone
    ],
)
def test_parse_retry_after(value: str | None, seconds: int | None) -> None:
    assert parse_retry_after(value, NOW) == seconds


header_text = st.text(st.characters(codec="latin-1", exclude_categories=("Cs",)), max_size=60)


@given(
    status=st.integers(-1000, 1000),
    headers=st.dictionaries(
        st.sampled_from(["Content-Type", "content-type", "Retry-After", "Location", "X"]), header_text
    ),
    body=st.binary(max_size=3000) | st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")),
    kind=st.sampled_from(list(HandlerKind)),
)
@settings(max_examples=1500)
def test_classify_never_raises_and_is_consistent(
    status: int, headers: dict[str, str], body: bytes, kind: HandlerKind
) -> None:
    result = classify(status, headers, body, kind=kind, now=NOW, limits=LIMITS)
    assert isinstance(result, DeliveryResult)
    if result.outcome is Outcome.SUCCESS:
        assert 200 <= status < 300
        assert (result.answer is None) == (kind is ASYNC)
        if result.answer is not None and result.answer.reply_text is not None:
            text = result.answer.reply_text
            assert text == text.strip() and 0 < len(text) <= LIMITS.reply_chars_max
            text.encode("utf-8")  # sendable
    if result.outcome is Outcome.RETRYABLE:
        assert status in (408, 429) or 500 <= status < 600

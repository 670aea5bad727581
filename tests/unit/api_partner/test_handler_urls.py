"""The SSRF guard on handler and status URLs (domain/handler_urls.py): pure, every spelling of an address."""

from __future__ import annotations

import ipaddress

import pytest

from smsbilling.domain.handler_urls import (
    HandlerUrlError,
    UrlRefusal,
    address_allowed,
    check_handler_url,
    parse_ipv4_loose,
)

ALLOWED = [
    "https://partner.example.com/mo",
    "https://partner.example.com:8443/mo?x=1&y=2",
    "https://PARTNER.Example.COM/Path",
    "https://8.8.8.8/mo",
    "https://[2001:4860:4860::8888]/mo",
    "https://xn--80ak6aa92e.com/mo",  # an IDN, in punycode
    "https://partner.example.com./mo",  # a trailing dot
]

REFUSED = [
    ("http://partner.example.com/mo", UrlRefusal.SCHEME),
    ("ftp://partner.example.com/mo", UrlRefusal.SCHEME),
    ("javascript:alert(1)", UrlRefusal.SCHEME),
    ("https://user:secret@partner.example.com/mo", UrlRefusal.CREDENTIALS),
    ("https://partner.example.com@169.254.169.254/", UrlRefusal.CREDENTIALS),
    ("https:///mo", UrlRefusal.HOST),
    ("https://127.0.0.1/mo", UrlRefusal.ADDRESS),
    ("https://10.1.2.3/mo", UrlRefusal.ADDRESS),
    ("https://172.16.0.1/mo", UrlRefusal.ADDRESS),
    ("https://192.168.1.1/mo", UrlRefusal.ADDRESS),
    ("https://169.254.169.254/latest/meta-data/", UrlRefusal.ADDRESS),  # instance metadata
    ("https://100.64.0.1/mo", UrlRefusal.ADDRESS),  # carrier-grade NAT
    ("https://0.0.0.0/mo", UrlRefusal.ADDRESS),
    ("https://224.0.0.1/mo", UrlRefusal.ADDRESS),
    ("https://255.255.255.255/mo", UrlRefusal.ADDRESS),
    ("https://2130706433/mo", UrlRefusal.ADDRESS),  # 127.0.0.1 as one number
    ("https://0x7f.1/mo", UrlRefusal.ADDRESS),  # 127.0.0.1, hex and shorthand
    ("https://0177.0.0.1/mo", UrlRefusal.ADDRESS),  # octal
    ("https://0xa9.0xfe.0xa9.0xfe/mo", UrlRefusal.ADDRESS),  # 169.254.169.254 in hex
    ("https://[::1]/mo", UrlRefusal.ADDRESS),
    ("https://[::ffff:169.254.169.254]/mo", UrlRefusal.ADDRESS),  # IPv4-mapped
    ("https://[::ffff:a9fe:a9fe]/mo", UrlRefusal.ADDRESS),
    ("https://[64:ff9b::a9fe:a9fe]/mo", UrlRefusal.ADDRESS),  # NAT64 of the metadata address
    ("https://[2002:a9fe:a9fe::1]/mo", UrlRefusal.ADDRESS),  # 6to4 of it
    ("https://[fd00:ec2::254]/mo", UrlRefusal.ADDRESS),  # AWS metadata over IPv6
    ("https://[fe80::1%25eth0]/mo", UrlRefusal.ADDRESS),
    ("https://[fc00::1]/mo", UrlRefusal.ADDRESS),
    ("https://1.2.3.999/mo", UrlRefusal.HOST),  # numeric but not an address
    ("https://localhost/mo", UrlRefusal.HOST),
    ("https://api.localhost/mo", UrlRefusal.HOST),
    ("https://metadata.google.internal/mo", UrlRefusal.HOST),
    ("https://printer.local/mo", UrlRefusal.HOST),
    ("https://router.home.arpa/mo", UrlRefusal.HOST),
    ("https://intranet/mo", UrlRefusal.HOST),  # a single label
    ("https://bad_host.example.com/mo", UrlRefusal.HOST),
    ("https://-bad.example.com/mo", UrlRefusal.HOST),
    ("https://partner.example.com:99999/mo", UrlRefusal.MALFORMED),
    ("https://partner.example.com/m o", UrlRefusal.MALFORMED),
    ("https://partner.example.com/\nmo", UrlRefusal.MALFORMED),
    ("https://пример.рф/mo", UrlRefusal.MALFORMED),  # IDNs in punycode only
    ("https://partner.example.com/" + "a" * 2048, UrlRefusal.TOO_LONG),
]


@pytest.mark.parametrize("url", ALLOWED)
def test_public_https_urls_pass(url: str) -> None:
    assert check_handler_url(url, allow_loopback=False) == url


@pytest.mark.parametrize(("url", "refusal"), REFUSED)
def test_refused(url: str, refusal: UrlRefusal) -> None:
    with pytest.raises(HandlerUrlError) as refused:
        check_handler_url(url, allow_loopback=False)
    assert refused.value.refusal is refusal, (url, refused.value.detail)


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8080/mo", "https://127.0.0.1/mo", "http://localhost:9000/mo", "http://[::1]:80/mo"],
)
def test_loopback_only_on_the_local_stage(url: str) -> None:
    assert check_handler_url(url, allow_loopback=True) == url
    with pytest.raises(HandlerUrlError):
        check_handler_url(url, allow_loopback=False)


@pytest.mark.parametrize(
    ("url", "refusal"),
    [
        ("http://10.0.0.1/mo", UrlRefusal.ADDRESS),
        ("http://169.254.169.254/", UrlRefusal.ADDRESS),
        ("http://partner.example.com/mo", UrlRefusal.SCHEME),
    ],
)
def test_the_local_stage_opens_loopback_and_nothing_else(url: str, refusal: UrlRefusal) -> None:
    with pytest.raises(HandlerUrlError) as refused:
        check_handler_url(url, allow_loopback=True)
    assert refused.value.refusal is refusal


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("10.1.258", "10.1.1.2"),
        ("0300.0250.1.1", "192.168.1.1"),
        ("8.8.8.8", "8.8.8.8"),
    ],
)
def test_inet_aton_spellings(host: str, address: str) -> None:
    assert parse_ipv4_loose(host) == ipaddress.IPv4Address(address)


@pytest.mark.parametrize("host", ["256.1.1.1", "1.2.3.4.5", "1.2.3.256", "example.com", "09.1.1.1", ""])
def test_not_an_ipv4(host: str) -> None:
    assert parse_ipv4_loose(host) is None


def test_address_allowed_unwraps_embedded_ipv4() -> None:
    assert address_allowed(ipaddress.ip_address("::ffff:8.8.8.8"))
    assert not address_allowed(ipaddress.ip_address("::ffff:10.0.0.1"))
    assert address_allowed(ipaddress.ip_address("2001:4860:4860::8888"))
    assert not address_allowed(ipaddress.ip_address("2001::1"))  # Teredo

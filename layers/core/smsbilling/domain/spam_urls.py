# ruff: noqa: RUF002
# (look-alike letters are the subject of this module)
"""Links in a text, found the way a reader would follow them, for URL spam rules (domain/spam.py).

A URL rule lists a domain; it matches that domain and every subdomain of it wherever the text
names a host: a full URL, a bare domain ("example.com/win"), or one written to slip past a filter:
"hxxp://example[.]com", "example(.)com", "example{dot}com", "example dot com", "example . com",
"ехаmple.com" with Cyrillic look-alikes (homographs fold to Latin, as in word rules), full-width
dots and letters (NFKC), zero-width characters inside, punycode ("xn--...") decoded. The host is
what is compared, so a path or query naming another domain ("good.com/?u=evil.com") is found too.

Shortened links hide where they lead, and resolving them would mean fetching them from the MT
path; instead the pattern ``@shorteners`` matches any host of :data:`SHORTENERS` (the admin can
list one more shortener as a plain domain rule).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

from smsbilling.domain.spam_text import LOOKALIKES

SHORTENERS_PATTERN: Final = "@shorteners"
SHORTENERS: Final = frozenset(
    {
        "bit.ly", "bitly.com", "tinyurl.com", "goo.gl", "t.co", "ow.ly", "is.gd", "v.gd", "buff.ly",
        "cutt.ly", "rb.gy", "shorturl.at", "tiny.cc", "t.ly", "s.id", "rebrand.ly", "bl.ink", "short.io",
        "clck.ru", "qps.ru", "u.to", "vk.cc", "to.click", "tiny.one", "lnkd.in", "shorte.st", "adf.ly",
        "bc.vc", "soo.gd", "x.co", "trib.al", "t.me", "wa.me", "surl.li", "ouo.io", "urlz.fr",
    }
)  # fmt: skip

_HOST_CHARS_MAX: Final = 253
# Written-out dots: "[.]", "(dot)", "{.}", "<dot>", and " dot " / " . " between spaces.
_DOT_WORDS: Final = r"(?:\.|dot|point|punkt|точка|тчк)"
_BRACKETED_DOT: Final = re.compile(rf"\s?[\[({{<]\s?{_DOT_WORDS}\s?[\])}}>]\s?")
_SPACED_DOT: Final = re.compile(rf"(?<=[^\W_])\s+{_DOT_WORDS}\s+(?=[^\W_])")
# A host: labels of letters, digits and hyphens joined by dots, not inside a longer word or host.
_HOST: Final = re.compile(r"(?<![\w.-])(?:[\w-]{1,63}\.){1,10}[\w-]{1,63}")
_DOMAIN: Final = re.compile(r"^(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+[^\W\d_][\w-]{0,61}$")


def _plain(text: str) -> str:
    """NFKC, format characters dropped, case-folded: how a host is read."""
    normalised = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in normalised if unicodedata.category(ch) != "Cf").casefold()


def _fold_host(host: str) -> str:
    return ".".join(_unicode_label(label).translate(LOOKALIKES) for label in host.strip(".").split("."))


def _unicode_label(label: str) -> str:
    """A punycode label ("xn--...") decoded; any other label as it is."""
    if label.startswith("xn--"):
        try:
            return label.encode("ascii").decode("idna")
        except UnicodeError:
            return label
    return label


def hosts_in(text: str) -> list[tuple[str, str]]:
    """Every host the text names: ``(folded host, as written after de-obfuscation)``."""
    plain = _BRACKETED_DOT.sub(".", _plain(text))
    plain = _SPACED_DOT.sub(".", plain)
    found: list[tuple[str, str]] = []
    for match in _HOST.finditer(plain):
        written = match.group(0).strip(".-")
        if "." in written and len(written) <= _HOST_CHARS_MAX:
            found.append((_fold_host(written), written))
    return found


def listed_domain(pattern: str) -> str:
    """The folded domain a URL rule lists (a URL gives its host); ValueError when it is not one."""
    plain = _plain(pattern.strip())
    if plain == SHORTENERS_PATTERN:
        return SHORTENERS_PATTERN
    host = re.sub(r"^[a-z][a-z0-9+.-]*://", "", plain).split("/", 1)[0].split("?", 1)[0]
    host = host.rsplit("@", 1)[-1].split(":", 1)[0].strip(".")
    folded = _fold_host(host)
    if len(folded) > _HOST_CHARS_MAX or not _DOMAIN.match(folded):
        raise ValueError(f"not a domain: {pattern!r} (write example.com, or {SHORTENERS_PATTERN})")
    return folded


def within(host: str, domain: str) -> bool:
    """``host`` is ``domain`` or one of its subdomains (``@shorteners``: any listed shortener's)."""
    if domain == SHORTENERS_PATTERN:
        return any(within(host, shortener) for shortener in SHORTENERS)
    return host == domain or host.endswith("." + domain)


__all__ = ["SHORTENERS", "SHORTENERS_PATTERN", "hosts_in", "listed_domain", "within"]

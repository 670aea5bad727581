"""The linear-time engine of regex spam rules (domain/safe_regex.py), checked against Python's re."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsbilling.domain.safe_regex import RegexRefused, compile_safe


def safe(pattern: str) -> object:
    return compile_safe(pattern, chars_max=500, states_max=5000)


# Small regular expressions over a small alphabet, in the supported syntax.
ATOMS = st.sampled_from(["a", "b", "c", ".", "[ab]", "[^a]", r"\d", r"\w", r"\s", r"\W", "[a-c]", " ", "1"])


def _regex(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, children).map("".join),
        st.tuples(children, children).map(lambda p: f"(?:{p[0]}|{p[1]})"),
        st.tuples(children, st.sampled_from(["*", "+", "?", "{2}", "{1,3}", "{0,2}", "*?", "+?"])).map(
            lambda p: f"(?:{p[0]}){p[1]}"
        ),
        children.map(lambda p: f"({p})"),
        children.map(lambda p: rf"\b{p}"),
        children.map(lambda p: f"^{p}"),
        children.map(lambda p: f"{p}$"),
        children.map(lambda p: rf"{p}\B"),
    )


PATTERNS = st.recursive(ATOMS, _regex, max_leaves=8)
TEXTS = st.text(alphabet="abc1 \n_", max_size=14)


@settings(max_examples=1500, deadline=None)
@given(PATTERNS, TEXTS)
def test_matches_exactly_where_python_re_does(pattern: str, text: str) -> None:
    try:
        compiled = safe(pattern)
    except RegexRefused as error:
        assert "empty text" in str(error)  # everything generated is supported but the nullable
        return
    expected = re.search(pattern, text)
    found = compiled.search(text)  # type: ignore[attr-defined]
    assert (found is not None) == (expected is not None), (pattern, text, found, expected)
    if found is not None:
        # The match reported ends earliest; re's leftmost match ends no earlier than that.
        assert 0 <= found[0] <= found[1] <= expected.end()  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("pattern", "text", "hit"),
    [
        ("FREE", "free", True),  # pattern letters match either case
        ("[A-Z]{3}", "abc", True),
        ("(?s)a.b", "a\nb", True),
        ("a.b", "a\nb", False),
        ("(?m)^b", "a\nb", True),
        ("^b", "a\nb", False),
        ("x$", "x\n", True),
        (r"\bwin\b", "winner", False),
        (r"(?a)^\w+$", "café", False),  # ASCII \w: no é
        (r"^\w+$", "café", True),
        (r"colou?r", "color", True),
        (r"(ab){2,3}c", "ababc", True),
        (r"(ab){2,3}c", "abc", False),
    ],
)
def test_flags_anchors_and_case(pattern: str, text: str, hit: bool) -> None:
    assert (safe(pattern).search(text) is not None) is hit  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "pattern",
    [r"(a+)+$", r"(a|aa)*b", r"(a|a)*c", r".*a.*a.*a.*a.*x", r"^(\w+\s?)+$", r"(x+x+)+y", r"(.*,){12}z"],
)
def test_catastrophic_patterns_run_in_linear_time(pattern: str) -> None:
    compiled = safe(pattern)
    for hostile in ("a" * 3000 + "!", "x" * 3000, "aaaa " * 600 + "!", "," * 3000):
        started = time.perf_counter()
        compiled.search(hostile)  # type: ignore[attr-defined]
        assert time.perf_counter() - started < 2.0, (pattern, hostile[:10])


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        (r"(a)\1", "backreferences"),
        (r"(?P<x>a)(?P=x)", "backreferences"),
        (r"(a)?(?(1)b|c)", "conditionals"),
        (r"a(?=b)", "lookahead"),
        (r"(?<!a)b", "lookbehind"),
        (r"a++", "possessive"),
        (r"(?>ab)", "atomic"),
        (r"x?", "empty text"),
        (r"\b", "empty text"),
        (r"(?:a{100}){100}", "too complex"),
        (r"[z-a]", "not a valid"),
        ("", "empty pattern"),
    ],
)
def test_refused_patterns(pattern: str, problem: str) -> None:
    with pytest.raises(RegexRefused, match=problem):
        safe(pattern)


def test_the_pattern_length_is_capped() -> None:
    with pytest.raises(RegexRefused, match="longer than 10"):
        compile_safe("a" * 11, chars_max=10, states_max=100)

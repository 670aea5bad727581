"""Regular expressions an admin writes, matched in time linear in the text (no backtracking).

Python's ``re`` backtracks: ``(a+)+$``, ``(a|aa)*b`` or even ``.*a.*a.*a.*x`` take exponential or
high-polynomial time on a crafted text, and a spam rule runs on every MT a partner sends: a partner
could stall the MT processor with one text. Rejecting "dangerous" patterns by their shape catches
the textbook cases only, so admin patterns are not run by ``re`` at all. They are parsed by
Python's own parser (the syntax the admin knows, its error messages) and compiled here into a
Thompson NFA, simulated breadth first as RE2 and Go's ``regexp`` do: every position of the text
is visited once with at most one thread per program instruction, so a search costs
O(len(text) x len(program)) whatever the pattern. Bounded repeats are unrolled, so the program
size is capped (``states_max``) and ``a{1000}{1000}`` is refused at creation.

Supported: literals, ``.``, classes (ranges, ``\\d \\w \\s`` and their negations), groups,
alternation, greedy and lazy repeats (a lazy repeat matches the same texts: only "whether and
where" is asked), anchors ``^ $ \\A \\Z \\b \\B`` and the flags ``s m x a`` (inline or scoped).
Refused (:class:`RegexRefused`): backreferences, lookahead and lookbehind, conditionals, atomic
groups and possessive repeats, which need backtracking. Matching is case-insensitive: the text
is case-folded by the caller and pattern letters match either case.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

_parser: Any = importlib.import_module("re._parser")  # the stdlib's own parser (no public API)
_MAXREPEAT: Final[int] = int(importlib.import_module("re._constants").MAXREPEAT)

# Instructions: (opcode, a, b). CHAR: a = predicate; SPLIT: a, b = targets; JMP: a = target;
# ASSERT: a = anchor kind; MATCH.
_CHAR, _SPLIT, _JMP, _ASSERT, _MATCH = range(5)
# Anchor kinds.
_BEGIN, _END, _LINE_BEGIN, _LINE_END, _BOUNDARY, _NOT_BOUNDARY = range(6)

type CharTest = Callable[[str], bool]
type Instruction = tuple[int, Any, Any]


class RegexRefused(ValueError):
    """The pattern does not compile, is too large, or needs backtracking (message says which)."""


def _is_word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _is_ascii_word(ch: str) -> bool:
    return ch.isascii() and (ch.isalnum() or ch == "_")


def _category(name: str, ascii_only: bool) -> CharTest:
    tests: dict[str, CharTest] = {
        "CATEGORY_DIGIT": (lambda c: c in "0123456789") if ascii_only else str.isdecimal,
        "CATEGORY_WORD": _is_ascii_word if ascii_only else _is_word,
        "CATEGORY_SPACE": (lambda c: c in " \t\n\r\f\v") if ascii_only else str.isspace,
    }
    positive = name.replace("CATEGORY_NOT_", "CATEGORY_")
    if positive not in tests:
        raise RegexRefused(f"unsupported character category {name}")
    test = tests[positive]
    if positive != name:
        return lambda c: not test(c)
    return test


def _variants(ch: str) -> frozenset[str]:
    """``ch`` and its single-character case forms (the text is case-folded)."""
    forms = {ch, ch.lower(), ch.upper(), ch.casefold()}
    return frozenset(form for form in forms if len(form) == 1)


def _class_test(items: Sequence[tuple[Any, Any]], ascii_only: bool) -> CharTest:
    negate = False
    singles: set[str] = set()
    ranges: list[tuple[int, int]] = []
    categories: list[CharTest] = []
    for op, av in items:
        name = str(op)
        if name == "NEGATE":
            negate = True
        elif name == "LITERAL":
            singles |= _variants(chr(av))
        elif name == "RANGE":
            ranges.append((int(av[0]), int(av[1])))
        elif name == "CATEGORY":
            categories.append(_category(str(av), ascii_only))
        else:
            raise RegexRefused(f"unsupported class item {name}")

    def test(ch: str) -> bool:
        hit = (
            ch in singles
            or any(lo <= ord(form) <= hi for form in _variants(ch) for lo, hi in ranges)
            or any(category(ch) for category in categories)
        )
        return hit != negate

    return test


@dataclass
class _Compiler:
    states_max: int
    program: list[Instruction] = field(default_factory=list)

    def emit(self, op: int, a: Any = None, b: Any = None) -> int:
        if len(self.program) >= self.states_max:
            raise RegexRefused(
                f"pattern too complex: over {self.states_max} states once repeats are unrolled"
            )
        self.program.append((op, a, b))
        return len(self.program) - 1

    def patch(self, pc: int, a: Any = None, b: Any = None) -> None:
        op, old_a, old_b = self.program[pc]
        self.program[pc] = (op, old_a if a is None else a, old_b if b is None else b)

    def sequence(self, items: Sequence[tuple[Any, Any]], flags: int) -> None:
        for op, av in items:
            self.node(str(op), av, flags)

    def node(self, name: str, av: Any, flags: int) -> None:
        ascii_only = bool(flags & re.ASCII)
        if name == "LITERAL":
            forms = _variants(chr(av))
            self.emit(_CHAR, forms.__contains__)
        elif name == "NOT_LITERAL":
            forms = _variants(chr(av))
            self.emit(_CHAR, lambda c: c not in forms)
        elif name == "ANY":
            self.emit(_CHAR, (lambda c: True) if flags & re.DOTALL else (lambda c: c != "\n"))
        elif name == "IN":
            self.emit(_CHAR, _class_test(av, ascii_only))
        elif name == "SUBPATTERN":
            _group, add_flags, del_flags, sub = av
            self.sequence(sub.data, (flags | add_flags) & ~del_flags)
        elif name == "BRANCH":
            self.branch(av[1], flags)
        elif name in ("MAX_REPEAT", "MIN_REPEAT"):
            low, high, sub = av
            self.repeat(int(low), int(high), sub.data, flags)
        elif name == "AT":
            self.emit(_ASSERT, self.anchor(str(av), flags))
        elif name in ("GROUPREF", "GROUPREF_EXISTS"):
            raise RegexRefused("backreferences and conditionals are not supported")
        elif name in ("ASSERT", "ASSERT_NOT"):
            raise RegexRefused("lookahead and lookbehind are not supported")
        elif name in ("ATOMIC_GROUP", "POSSESSIVE_REPEAT"):
            raise RegexRefused("atomic groups and possessive repeats are not supported")
        else:
            raise RegexRefused(f"unsupported construct {name}")

    def branch(self, alternatives: Sequence[Any], flags: int) -> None:
        jumps: list[int] = []
        for index, alternative in enumerate(alternatives):
            last = index == len(alternatives) - 1
            split = -1 if last else self.emit(_SPLIT, len(self.program) + 1, None)
            self.sequence(alternative.data, flags)
            if not last:
                jumps.append(self.emit(_JMP, None))
                self.patch(split, b=len(self.program))
        for jump in jumps:
            self.patch(jump, a=len(self.program))

    def repeat(self, low: int, high: int, items: Sequence[tuple[Any, Any]], flags: int) -> None:
        for _ in range(low):
            self.sequence(items, flags)
        if high >= _MAXREPEAT:
            loop = self.emit(_SPLIT, len(self.program) + 1, None)
            self.sequence(items, flags)
            self.emit(_JMP, loop)
            self.patch(loop, b=len(self.program))
            return
        splits: list[int] = []
        for _ in range(high - low):
            splits.append(self.emit(_SPLIT, len(self.program) + 1, None))
            self.sequence(items, flags)
        for split in splits:
            self.patch(split, b=len(self.program))

    @staticmethod
    def anchor(name: str, flags: int) -> int:
        multiline = bool(flags & re.MULTILINE)
        kinds = {
            "AT_BEGINNING": _LINE_BEGIN if multiline else _BEGIN,
            "AT_BEGINNING_STRING": _BEGIN,
            "AT_END": _LINE_END if multiline else _END,
            "AT_END_STRING": _END,
            "AT_BOUNDARY": _BOUNDARY,
            "AT_NON_BOUNDARY": _NOT_BOUNDARY,
        }
        if name not in kinds:
            raise RegexRefused(f"unsupported anchor {name}")
        return kinds[name]


@dataclass(frozen=True)
class SafeRegex:
    """A compiled pattern: :meth:`search` finds the first match (the earliest end) in linear time."""

    pattern: str
    program: tuple[Instruction, ...]
    ascii_word: bool

    def search(self, text: str) -> tuple[int, int] | None:
        """``(start, end)`` of a match ending earliest (its leftmost start), or None."""
        size = len(text)
        current: dict[int, int] = {}  # pc of a CHAR or MATCH instruction -> start of its thread
        seen: set[int] = set()  # every instruction reached at this position (one thread each)
        for pos in range(size + 1):
            self._add(current, seen, 0, start=pos, pos=pos, text=text)
            ends = [start for pc, start in current.items() if self.program[pc][0] == _MATCH]
            if ends:
                return min(ends), pos
            if pos == size:
                break
            ch = text[pos]
            following: dict[int, int] = {}
            seen = set()
            for pc, start in current.items():
                op, test, _ = self.program[pc]
                if op == _CHAR and test(ch):
                    self._add(following, seen, pc + 1, start=start, pos=pos + 1, text=text)
            current = following
        return None

    def _add(
        self, threads: dict[int, int], seen: set[int], pc: int, *, start: int, pos: int, text: str
    ) -> None:
        """Follow ``pc``'s empty moves at ``pos``: the first thread to reach an instruction keeps it."""
        stack = [pc]
        while stack:
            at = stack.pop()
            if at in seen:
                continue
            seen.add(at)
            op, a, b = self.program[at]
            if op == _JMP:
                stack.append(a)
            elif op == _SPLIT:
                stack.extend((b, a))  # a first
            elif op == _ASSERT:
                if self._holds(a, pos, text):
                    stack.append(at + 1)
            else:
                threads[at] = start

    def _holds(self, kind: int, pos: int, text: str) -> bool:
        size = len(text)
        if kind == _BEGIN:
            return pos == 0
        if kind == _END:
            return pos == size or (pos == size - 1 and text[pos] == "\n")
        if kind == _LINE_BEGIN:
            return pos == 0 or text[pos - 1] == "\n"
        if kind == _LINE_END:
            return pos == size or text[pos] == "\n"
        word = _is_ascii_word if self.ascii_word else _is_word
        before = pos > 0 and word(text[pos - 1])
        after = pos < size and word(text[pos])
        return (before != after) == (kind == _BOUNDARY)


def compile_safe(pattern: str, *, chars_max: int, states_max: int) -> SafeRegex:
    """Compile an admin's pattern (:class:`RegexRefused` with the reason when it cannot be run)."""
    if not pattern:
        raise RegexRefused("empty pattern")
    if len(pattern) > chars_max:
        raise RegexRefused(f"longer than {chars_max} characters")
    try:
        re.compile(pattern)
        parsed = _parser.parse(pattern, 0)
    except (re.error, RecursionError, OverflowError) as error:
        raise RegexRefused(f"not a valid regular expression: {error}") from None
    flags = int(parsed.state.flags)
    compiler = _Compiler(states_max)
    compiler.sequence(parsed.data, flags)
    compiler.emit(_MATCH)
    program = tuple(compiler.program)
    if _nullable(program):
        raise RegexRefused("matches an empty text, so it would match every message")
    return SafeRegex(pattern, program, bool(flags & re.ASCII))


def _nullable(program: Sequence[Instruction]) -> bool:
    """Whether MATCH is reachable without reading a character (anchors taken as holding)."""
    stack, seen = [0], set()
    while stack:
        at = stack.pop()
        if at in seen:
            continue
        seen.add(at)
        op, a, b = program[at]
        if op == _MATCH:
            return True
        if op == _JMP:
            stack.append(a)
        elif op == _SPLIT:
            stack.extend((a, b))
        elif op == _ASSERT:
            stack.append(at + 1)
    return False


__all__ = ["RegexRefused", "SafeRegex", "compile_safe"]

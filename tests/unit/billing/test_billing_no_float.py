"""No float near money: an AST scan of the money, ledger, tariff and rating modules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[3] / "layers" / "core" / "smsbilling"
MONEY_MODULES = [
    "domain/money.py",
    "domain/accounts.py",
    "domain/ledger.py",
    "domain/tariff.py",
    "domain/tariff_records.py",
    "domain/rating.py",
    "domain/postings.py",
    "logic/billing.py",
    "logic/credits.py",
    "logic/reconcile.py",
    "logic/ledger_setup.py",
    "logic/charging.py",
    "domain/sms_credits.py",
    "logic/api_send.py",
    "adapters/memory_tally.py",
    "adapters/dynamodb_tally.py",
    "adapters/memory_ledger.py",
    "adapters/dynamodb_ledger.py",
    "adapters/dynamodb_ledger_items.py",
    "logic/admin_ledger.py",
    "web/admin/ledger.py",
]


def float_uses(source: str) -> list[str]:
    """Every ``float`` name, float literal and true division (``/`` makes floats) in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name) and node.id == "float":
            found.append(f"line {node.lineno}: float")
        elif isinstance(node, ast.Constant) and isinstance(node.value, float):
            found.append(f"line {node.lineno}: float literal {node.value!r}")
        elif isinstance(node, (ast.BinOp, ast.AugAssign)) and isinstance(node.op, ast.Div):
            found.append(f"line {node.lineno}: true division")
    return found


def test_the_scanner_catches_floats() -> None:
    assert len(float_uses("x: float = 1.5\ny = a / b\nz /= 2\nw = float(3)")) == 5
    assert float_uses("x = 3 // 2\ny = 'a/b'") == []


@pytest.mark.parametrize("module", MONEY_MODULES)
def test_no_float_in_money_modules(module: str) -> None:
    path = PACKAGE / module
    assert path.is_file(), f"{module} moved: update MONEY_MODULES"
    assert float_uses(path.read_text()) == [], module


def test_every_money_module_is_scanned() -> None:
    names = {"money", "ledger", "tariff", "rating", "postings", "billing", "credits", "reconcile"}
    on_disk = {
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if any(name in path.stem for name in names)
    }
    assert on_disk <= set(MONEY_MODULES), on_disk - set(MONEY_MODULES)

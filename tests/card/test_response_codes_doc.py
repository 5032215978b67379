"""docs/response-codes.md has one row per code of card/response_codes.py, with its reason word for word."""
from __future__ import annotations

import re
from pathlib import Path

from card import response_codes as rc

DOC = Path(__file__).resolve().parents[2] / "docs" / "response-codes.md"
ROW = re.compile(r"^\|\s*([0-9A-Z]{2})\s*\|\s*([^|]+?)\s*\|\s*([^|]*?)\s*\|\s*$")


def _rows() -> dict[str, tuple[str, str]]:
    rows: dict[str, tuple[str, str]] = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        found = ROW.match(line)
        if found:
            code, meaning, when = found.groups()
            assert code not in rows, f"code {code} has two rows in {DOC.name}"
            rows[code] = (meaning, when)
    return rows


def test_every_code_has_a_row_with_its_reason_and_when_it_is_answered():
    rows = _rows()
    assert sorted(rows) == sorted(rc.REASONS), (
        f"{DOC.name} and card/response_codes.py disagree: missing rows {sorted(set(rc.REASONS) - set(rows))}, "
        f"rows of no code {sorted(set(rows) - set(rc.REASONS))}")
    for code, (meaning, when) in rows.items():
        assert meaning == rc.REASONS[code], f"code {code}: the table says {meaning!r}, REASONS {rc.REASONS[code]!r}"
        assert when, f"code {code}: say when the sandbox answers it"


def test_every_code_constant_is_in_reasons():
    constants = {v for k, v in vars(rc).items() if k.isupper() and isinstance(v, str) and re.fullmatch(r"[0-9A-Z]{2}", v)}
    assert constants <= set(rc.REASONS), f"codes without a reason: {sorted(constants - set(rc.REASONS))}"

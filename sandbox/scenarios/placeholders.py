"""Placeholders in a scenario file: ``matrix:`` tables expanded into one step list per row (``${column}``,
``${case}``), and ``${name.field}`` reading a result an earlier step saved (filled in when the step runs;
a stand-in value while the file is checked at load time)."""
from __future__ import annotations

import re
from typing import Any

from ledger.errors import DomainError

MAX_MATRIX_CASES = 100
_SAVED = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_-]*)\.([A-Za-z0-9_.]+)\}")
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _replace(value: Any, pattern: re.Pattern, value_of) -> Any:
    """``value`` (YAML data) with every match of ``pattern`` in its strings replaced by ``value_of(match)``;
    a string that is one whole placeholder takes the value itself, so a number stays a number."""
    if isinstance(value, dict):
        return {k: _replace(v, pattern, value_of) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace(v, pattern, value_of) for v in value]
    if isinstance(value, str):
        whole = pattern.fullmatch(value)
        if whole:
            return value_of(whole)
        return pattern.sub(lambda m: str(value_of(m)), value)
    return value


def _substitute(value: Any, row: dict) -> Any:
    """``value`` with every matrix ``${column}`` replaced by the row's value."""
    return _replace(value, _PLACEHOLDER, lambda m: row[m.group(1)])


def _stand_in(value: Any) -> Any:
    """``value`` with each ``${name.field}`` replaced by "0": the step's shape is checked at load time."""
    return _replace(value, _SAVED, lambda m: "0")


class UnfilledPlaceholder(DomainError):
    code = "unfilled_placeholder"


def _lookup(saved: dict[str, Any], name: str, path: str) -> Any:
    value: Any = saved[name]
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, (list, tuple)) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise UnfilledPlaceholder(f"${{{name}.{path}}}: the result saved as {name!r} has no {part!r}"
                                      + (f"; it has {', '.join(map(str, value))}" if isinstance(value, dict) else ""))
    return value


def _fill(value: Any, saved: dict[str, Any]) -> Any:
    """``value`` with every ``${name.field}`` replaced by the saved result's field."""
    return _replace(value, _SAVED, lambda m: _lookup(saved, m.group(1), m.group(2)))


def _placeholders(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set().union(*(_placeholders(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_placeholders(v) for v in value)) if value else set()
    return set(_PLACEHOLDER.findall(value)) if isinstance(value, str) else set()


def _expand_matrices(raw_steps: list, lines: dict[tuple, int]) -> tuple[list[tuple[Any, tuple, str]], list]:
    """Each step as (raw step, its path in the file, case label); a ``matrix:`` step becomes its steps once
    per row, with ``${column}`` (and ``${case}``, the row's number) replaced."""
    out: list[tuple[Any, tuple, str]] = []
    problems: list[tuple[int | None, str]] = []
    for i, raw in enumerate(raw_steps):
        loc = ("steps", i)
        if not (isinstance(raw, dict) and "matrix" in raw):
            out.append((raw, loc, ""))
            continue
        block = raw["matrix"]
        where = lines.get(loc + ("matrix",), lines.get(loc))
        rows, steps = (block.get("rows"), block.get("steps")) if isinstance(block, dict) else (None, None)
        if set(raw) - {"matrix", "name"} or not isinstance(block, dict) or set(block) - {"rows", "steps"}:
            problems.append((where, f"steps[{i}].matrix: write matrix: {{rows: [...], steps: [...]}} and nothing else"))
            continue
        if not isinstance(rows, list) or not 1 <= len(rows) <= MAX_MATRIX_CASES or not all(
                isinstance(r, dict) and r for r in rows):
            problems.append((where, f"steps[{i}].matrix.rows: 1 to {MAX_MATRIX_CASES} rows, each a mapping of "
                                    "column: value"))
            continue
        if not isinstance(steps, list) or not steps or any(isinstance(s, dict) and "matrix" in s for s in steps):
            problems.append((where, f"steps[{i}].matrix.steps: a non-empty list of steps (no matrix inside a matrix)"))
            continue
        columns = set(rows[0])
        odd = [n + 1 for n, r in enumerate(rows) if set(r) != columns]
        unknown = sorted(_placeholders(steps) - columns - {"case"})
        if odd:
            problems.append((where, f"steps[{i}].matrix.rows: every row has the columns {sorted(columns)}; "
                                    f"row {odd[0]} does not"))
            continue
        if unknown:
            problems.append((where, f"steps[{i}].matrix: ${{{unknown[0]}}} is not a column; columns: "
                                    f"{', '.join(sorted(columns))} (and case)"))
            continue
        for n, row in enumerate(rows, start=1):
            values = {"case": n, **row}
            label = f"[case {n}: " + ", ".join(f"{k}={v}" for k, v in row.items()) + "]"
            for j, step in enumerate(steps):
                out.append((_substitute(step, values), loc + ("matrix", "steps", j), label))
    return out, problems

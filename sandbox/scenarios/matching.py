"""Matching a scenario's expectations: a step's own result (``expect:`` on a step) and the city as a whole
(an ``expect`` step: balances, accounts, flags, tax, events, invariants), each as an ``ExpectationResult``
that says what was expected, what was found and, for a decline, why."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ledger import Money, format_amount

from .loader import Step

MAX_MESSAGE = 500


@dataclass(frozen=True)
class ExpectationResult:
    expectation: str
    expected: Any
    actual: Any
    step: str
    passed: bool
    context: str = ""     # what the step answered (a decline's code and reason, an error), shown on a failure

    def describe(self) -> str:
        mark = "PASS" if self.passed else "FAIL"
        text = f"{mark} {self.step}: {self.expectation}"
        if not self.passed:
            text += f" — expected {self.expected}, got {self.actual}"
            if self.context:
                text += f" [{self.context}]"
        return text


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if obj is None:
        return default
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _rule_names(flags: Any) -> list[str]:
    out = []
    for f in flags or []:
        out.append(f if isinstance(f, str) else (_get(f, "rule") or (f[0] if isinstance(f, (tuple, list)) else str(f))))
    return out


def _amt(m: Money | None) -> str:
    return "-" if m is None else format_amount(m.amount_minor, m.asset)


MAX_EVENTS_READ = 1000   # events one expectation looks at (ten pages of the log)
_NO_MARK = object()


def _wants_events(expect: Any) -> bool:
    return expect is not None and (getattr(expect, "events", None) is not None
                                   or getattr(expect, "events_exactly", None) is not None)


def wants_deliveries(expect: Any) -> bool:
    """The expectation names webhook deliveries (``webhooks`` or ``webhooks_exactly``)."""
    return expect is not None and (getattr(expect, "webhooks", None) is not None
                                   or getattr(expect, "webhooks_exactly", None) is not None)


def _event_mark(facade: Any, expect: Any) -> Any:
    """The newest event id before a step whose ``expect`` names events (the step's events come after it)."""
    if not (_wants_events(expect) or wants_deliveries(expect)) or not hasattr(facade, "last_event_id"):
        return _NO_MARK
    return facade.last_event_id()


def _events_after(facade: Any, mark: str | None) -> list[dict]:
    out: list[dict] = []
    while len(out) < MAX_EVENTS_READ:
        page = facade.events(after=mark, limit=100)
        out += page
        if len(page) < 100:
            break
        mark = page[-1]["id"]
    return out[:MAX_EVENTS_READ]


def _data_matches(want: Any, have: Any) -> bool:
    """``want`` is in ``have``: every key of an object (recursively), lists and scalars equal."""
    if isinstance(want, dict):
        return isinstance(have, dict) and all(k in have and _data_matches(v, have[k]) for k, v in want.items())
    if isinstance(want, bool) or isinstance(have, bool):
        return want is have
    return want == have


def _event_matches(pattern: Any, event: dict) -> bool:
    return event["type"] == pattern.type and _data_matches(pattern.data, event["data"])


def _shown(events: list[dict], patterns: list, *, nothing: str = "no events") -> str:
    """The events (or webhook deliveries) as a failure line shows them: each type with the fields the
    patterns asked about, and a delivery's POSTs when it took more than one."""
    keys = sorted({k for p in patterns for k in p.data})
    parts = []
    for e in events[:20]:
        fields = {k: e["data"][k] for k in keys if k in e["data"]}
        posts = e.get("attempts", 1)
        parts.append(e["type"] + (f" {fields}" if fields else "") + (f" ×{posts}" if posts > 1 else ""))
    more = f" … and {len(events) - 20} more" if len(events) > 20 else ""
    return "[" + ", ".join(parts) + more + "]" if parts else nothing


def _range_text(want: Any) -> str:
    return ", ".join(f"{op} {bound}" for op, bound in (("=", want.equals), (">=", want.at_least),
                                                      ("<=", want.at_most)) if bound is not None)


def _wanted(patterns: list) -> str:
    """The patterns as a failure line shows them (a delivery pattern's ``attempts`` too)."""
    return "[" + ", ".join(p.type + (f" {p.data}" if p.data else "") + (
        f" attempts {_range_text(p.attempts)}" if getattr(p, "attempts", None) else "") for p in patterns) + "]"


def _in_order(patterns: list, events: list[dict], matches: Any = None) -> bool:
    """Each pattern matches an event (``matches(pattern, event)``, by default type and data), in the
    patterns' order (other events may come between)."""
    matches = matches or _event_matches
    at = 0
    for pattern in patterns:
        while at < len(events) and not matches(pattern, events[at]):
            at += 1
        if at == len(events):
            return False
        at += 1
    return True


def match_events(facade: Any, step: Step, expect: Any, mark: Any) -> list[ExpectationResult]:
    """``events:`` (these events, in this order, others may come between) and ``events_exactly:`` (exactly
    these, in this order): for a step, the events it wrote; for an ``expect`` step, every event since the
    scenario began."""
    if not _wants_events(expect):
        return []
    what = "events written by this step" if step.verb != "expect" else "events so far"
    if not hasattr(facade, "events") or mark is _NO_MARK and step.verb != "expect":
        return [ExpectationResult(what, "an event log", "this city keeps no event log", step.label, False)]
    try:
        got = _events_after(facade, None if step.verb == "expect" else mark)
    except Exception as error:  # noqa: BLE001
        return [ExpectationResult(what, "events", _error_text(error), step.label, False)]
    out = []
    if expect.events is not None:
        out.append(ExpectationResult(f"{what} include, in order", _wanted(expect.events),
                                     _shown(got, expect.events), step.label, _in_order(expect.events, got)))
    if expect.events_exactly is not None:
        ok = len(got) == len(expect.events_exactly) and all(
            _event_matches(p, e) for p, e in zip(expect.events_exactly, got))
        out.append(ExpectationResult(f"{what} are exactly", _wanted(expect.events_exactly),
                                     _shown(got, expect.events_exactly), step.label, ok))
    return out


def _error_text(error: BaseException) -> str:
    code = getattr(error, "code", None)
    text = f"{type(error).__name__}{'[' + str(code) + ']' if code else ''}: {error}"
    return text[:MAX_MESSAGE]


def _context(outcome: Any, error: BaseException | None) -> str:
    """What the step answered, for a failure line: a decline's code and reason, or the error."""
    if error is not None:
        return _error_text(error)
    status = _get(outcome, "status")
    if status == "declined" or (_get(outcome, "response_code") not in (None, "00") and _get(outcome, "reason")):
        return f"{status or 'answered'} {_get(outcome, 'response_code')}: {_get(outcome, 'reason')}"[:MAX_MESSAGE]
    return ""


def _number_checks(name: str, want: Any, have: Any, shown: str) -> list[tuple[str, str, bool]]:
    """(expectation, expected, passed) for a range (AmountRange or NumberRange) against ``have``."""
    out = []
    for kind, bound, ok in (("=", want.equals, lambda b: have == b), (">=", want.at_least, lambda b: have >= b),
                            ("<=", want.at_most, lambda b: have <= b)):
        if bound is None:
            continue
        if isinstance(bound, Money):
            out.append((f"{name} {kind}", _amt(bound), have is not None and ok(bound.amount_minor)))
        else:
            out.append((f"{name} {kind}", str(bound), have is not None and ok(bound)))
    return out


def _range(name: str, want: Any, have: Any, asset: str | None, label: str, context: str = ""
           ) -> list[ExpectationResult]:
    """A range expectation on a number in minor units of ``asset`` (None: a plain number)."""
    out = []
    for bound in (want.equals, want.at_least, want.at_most):
        if isinstance(bound, Money) and asset is not None and bound.asset != asset:
            return [ExpectationResult(name, f"an amount in {asset}", _amt(bound), label, False, context)]
    shown = "-" if have is None else (format_amount(int(have), asset) if asset else str(have))
    for expectation, expected, ok in _number_checks(name, want, have, shown):
        out.append(ExpectationResult(expectation, expected, shown, label, ok, context))
    return out


def _flag_check(name: str, want: Any, got: list[str], label: str, context: str = "") -> ExpectationResult:
    if want.exactly is not None:
        return ExpectationResult(f"{name} are exactly", sorted(want.exactly) or "none", sorted(got) or "none", label,
                                 set(got) == set(want.exactly), context)
    return ExpectationResult(f"{name} include", sorted(want.contains), sorted(got) or "none", label,
                             set(want.contains) <= set(got), context)


def _sold_checks(want: list, sold: list, label: str, context: str) -> list[ExpectationResult]:
    assets = [str(_get(leg, "asset")) for leg in sold]
    out = [ExpectationResult("assets sold, in order", [w.asset for w in want] or "none", assets or "none", label,
                             assets == [w.asset for w in want], context)]
    if not out[0].passed:
        return out
    for w, leg in zip(want, sold):
        for field_name, key, asset in (("qty", "sold_qty_minor", w.asset), ("avg_price", "avg_price_minor", "KZT"),
                                       ("proceeds", "proceeds_minor", "KZT"), ("fee", "fee_minor", "KZT")):
            want_range = getattr(w, field_name)
            if want_range is not None:
                out += _range(f"{w.asset} sold {field_name.replace('_', ' ')}", want_range, _get(leg, key), asset,
                              label, context)
        if w.slippage_bps is not None:
            out += _range(f"{w.asset} slippage bps", w.slippage_bps, _get(leg, "slippage_bps"), None, label, context)
    return out


def _outcome_checks(e: Any, outcome: Any, error: BaseException | None, label: str, context: str
                    ) -> list[ExpectationResult]:
    out: list[ExpectationResult] = []
    status = "error" if error is not None else (_get(outcome, "status") or "ok")
    if error is not None and not (e.error or e.status == "error"):
        return [ExpectationResult("completes without error", "ok", _error_text(error), label, False)]
    if e.status is not None:
        out.append(ExpectationResult("status", e.status, status, label, status == e.status, context))
    if e.response_code is not None:
        code = _get(outcome, "response_code")
        out.append(ExpectationResult("response code", e.response_code, code, label, str(code) == e.response_code,
                                     context))
    if e.reason_contains is not None:
        reason = str(error) if error is not None else (_get(outcome, "reason") or "")
        out.append(ExpectationResult("reason mentions", repr(e.reason_contains), repr(reason[:MAX_MESSAGE]), label,
                                     e.reason_contains.lower() in reason.lower()))
    if e.error is not None:
        code = getattr(error, "code", None) if error is not None else None
        out.append(ExpectationResult("error", e.error, code or "no error", label, code == e.error, context))
    if e.flags is not None:
        out.append(_flag_check("flags on this step", e.flags, _rule_names(_get(outcome, "flags")), label, context))
    for name, key in (("amount", "amount_minor"), ("conversion fee", "conversion_fee_minor"),
                      ("shortfall", "shortfall_minor")):
        want = getattr(e, name.replace(" ", "_"))
        if want is not None:
            out += _range(name, want, _get(outcome, key), "KZT", label, context)
    if e.sold is not None:
        out += _sold_checks(e.sold, list(_get(outcome, "sold") or []), label, context)
    return out


def match_step(step: Step, outcome: Any, error: BaseException | None) -> list[ExpectationResult]:
    """Compare one step's result (or raised error) with its ``expect``."""
    e = step.expect
    if e is None:
        if error is not None:
            return [ExpectationResult("completes without error", "ok", _error_text(error), step.label, False)]
        return []
    context = _context(outcome, error)
    if e.one_of is None:
        return _outcome_checks(e, outcome, error, step.label, context)
    alternatives = [_outcome_checks(alt, outcome, error, step.label, context) for alt in e.one_of]
    wanted = " | ".join(", ".join(f"{k}={v}" for k, v in alt.model_dump(exclude_none=True).items())
                        for alt in e.one_of)
    status = "error" if error is not None else (_get(outcome, "status") or "ok")
    got = f"{status} {_get(outcome, 'response_code') or ''}".strip()
    ok = any(all(r.passed for r in checks) for checks in alternatives)
    out = [ExpectationResult(f"one of {len(e.one_of)} outcomes", wanted, got, step.label, ok, context)]
    # the step's other expectations (besides one_of) still apply
    rest = e.model_copy(update={"one_of": None})
    if any(v is not None for k, v in rest.model_dump().items() if k not in ("events", "events_exactly")):
        out += _outcome_checks(rest, outcome, error, step.label, context)
    return out


def match_block(facade: Any, step: Step) -> list[ExpectationResult]:
    """An ``expect`` step: balances, flags, tax statements, invariants."""
    b = step.args
    out: list[ExpectationResult] = []
    label = step.label

    def safe(fn, *args):
        try:
            return fn(*args), None
        except Exception as error:  # noqa: BLE001
            return None, error

    for actor, per_asset in (b.balances or {}).items():
        balances, error = safe(facade.balances, actor)
        for asset, want in per_asset.items():
            name = f"{actor} balance {asset}"
            if error is not None:
                out.append(ExpectationResult(name, "a balance", _error_text(error), label, False))
                continue
            have = int((balances or {}).get(asset, 0))
            shown = format_amount(have, asset)
            for kind, money, ok in (("=", want.equals, lambda m: have == m.amount_minor),
                                    (">=", want.at_least, lambda m: have >= m.amount_minor),
                                    ("<=", want.at_most, lambda m: have <= m.amount_minor)):
                if money is None:
                    continue
                if money.asset != asset:
                    out.append(ExpectationResult(name, f"an amount in {asset}", _amt(money), label, False))
                    continue
                out.append(ExpectationResult(f"{name} {kind}", _amt(money), shown, label, ok(money)))
    for code, want in (b.accounts or {}).items():
        have, error = safe(facade.account_balance, code)
        if error is not None:
            out.append(ExpectationResult(f"account {code}", "a balance", _error_text(error), label, False))
            continue
        out += _range(f"account {code}", want, have, code.rsplit(":", 1)[-1], label)
    for merchant, want in (b.merchants or {}).items():
        have, error = safe(facade.account_balance, f"merchant:{merchant}:KZT")
        if error is not None:
            out.append(ExpectationResult(f"merchant {merchant}", "a balance", _error_text(error), label, False))
            continue
        out += _range(f"merchant {merchant} balance", want, have, "KZT", label)
    for actor, wanted in (b.flags or {}).items():
        flags, error = safe(facade.flags, actor)
        if error is not None:
            out.append(ExpectationResult(f"{actor} flags", "flags", _error_text(error), label, False))
            continue
        out.append(_flag_check(f"{actor} flags", wanted, _rule_names(flags), label))
    for actor, t in (b.tax or {}).items():
        stmt, error = safe(facade.tax_statement, actor, t.year)
        if error is not None:
            out.append(ExpectationResult(f"{actor} tax statement {t.year}", "a statement", _error_text(error), label, False))
            continue
        data = stmt if isinstance(stmt, dict) else stmt.to_dict()
        if t.resident is not None:
            out.append(ExpectationResult(f"{actor} tax resident", t.resident, data["resident"], label,
                                         data["resident"] == t.resident))
        if t.residency_contains is not None:
            basis = data.get("residency_basis", "")
            out.append(ExpectationResult(f"{actor} residency basis", f"contains {t.residency_contains!r}", basis,
                                         label, t.residency_contains in basis))
        if t.disposals is not None:
            out += _range(f"{actor} disposals", t.disposals, len(data["disposals"]), None, label)
        if t.pit is not None:
            out += _range(f"{actor} personal income tax", t.pit, data["pit_kzt_minor"], "KZT", label)
        if t.net_gain is not None:
            out += _range(f"{actor} net gain", t.net_gain, data["net_gain_kzt_minor"], "KZT", label)
        if t.tax_of_gain_pct is not None:
            gain, pit = data["net_gain_kzt_minor"], data["pit_kzt_minor"]
            # to two decimals, as a person reads a rate; no gain → 0 % of nothing
            rate = (Decimal(pit) * 100 / Decimal(gain)).quantize(Decimal("0.01")) if gain > 0 else Decimal(0)
            out += _range(f"{actor} tax as % of the gain", t.tax_of_gain_pct, rate, None, label)
        for i, want_line in enumerate(t.lines or []):
            lines = data["disposals"]
            name = f"{actor} tax line {i + 1}"
            if i >= len(lines):
                out.append(ExpectationResult(name, "a disposal line", f"{len(lines)} lines", label, False))
                continue
            line = lines[i]
            for field_name, want in (("asset", want_line.asset), ("source", want_line.source)):
                if want is not None:
                    out.append(ExpectationResult(f"{name} {field_name}", want, line[field_name], label,
                                                 line[field_name] == want))
            for field_name, key, asset in (("qty", "qty_minor", line["asset"]), ("proceeds", "proceeds_kzt_minor", "KZT"),
                                           ("cost", "cost_basis_kzt_minor", "KZT"), ("gain", "gain_kzt_minor", "KZT")):
                want = getattr(want_line, field_name)
                if want is not None:
                    out += _range(f"{name} {field_name}", want, line[key], asset, label)
        if t.net_gain_at_least is not None:
            have = data["net_gain_kzt_minor"]
            out.append(ExpectationResult(f"{actor} net gain >=", _amt(t.net_gain_at_least), format_amount(have, "KZT"),
                                         label, have >= t.net_gain_at_least.amount_minor))
        if t.pit_rate_pct is not None:
            out.append(ExpectationResult(f"{actor} PIT rate %", t.pit_rate_pct, data["pit_rate_pct"], label,
                                         str(data["pit_rate_pct"]) == t.pit_rate_pct))
        if t.vat is not None:
            vat = str(data["vat"])
            out.append(ExpectationResult(f"{actor} VAT", t.vat, vat, label, vat.startswith(t.vat)))
    if b.verify:
        _, error = safe(facade.verify)
        out.append(ExpectationResult("ledger invariants hold", "verified",
                                     "verified" if error is None else _error_text(error), label, error is None))
    return out

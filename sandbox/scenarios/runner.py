"""Run a scenario against a facade (duck-typed: the lead's CryptoCity) and match expectations.

The runner calls these facade methods (keyword arguments, amounts in minor units):

    onboard(actor, kyc_tier, resident, aifc_investor, deposits: dict[asset, int][, days_in_kazakhstan])
    faucet(actor, asset, amount_minor)         deposit(actor, asset, amount_minor)
    buy(actor, instrument, quote_qty_minor) sell(actor, instrument, qty_minor)
    mint(actor, amount_minor)                  redeem(actor, amount_minor)
    pay(actor, merchant, amount_minor, ref) -> result with status, response_code, reason, flags
    capture(ref, amount_minor=None[, final=False])  reverse(ref, amount_minor=None)  refund(ref, amount_minor=None)
    expire(ref)                                force_post / unlinked_refund(actor, merchant, amount_minor, ref)
    advance(delta: timedelta)
    suspend_licence(licence_id, reason)        reinstate_licence(licence_id, reason)
    balances(actor) -> Mapping[asset, int]: AVAILABLE minor units (ledger minus holds); "KZT" = the card's bank account
    flags(actor) -> list of rule names or (rule, reason), every flag raised for the actor so far
    tax_statement(actor, year) -> TaxStatement (or its to_dict())
    verify()                                   raises if an invariant is broken

A step result may be an object or a dict; ``status`` defaults to "ok". A raised exception
with a ``code`` attribute becomes status "error" with that code (expectable with ``error:``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ledger import Money, format_amount

from ..config import CityConfig
from .loader import Scenario, Step

MAX_MESSAGE = 500


@dataclass(frozen=True)
class ExpectationResult:
    expectation: str
    expected: Any
    actual: Any
    step: str
    passed: bool

    def describe(self) -> str:
        mark = "PASS" if self.passed else "FAIL"
        text = f"{mark} {self.step}: {self.expectation}"
        if not self.passed:
            text += f" — expected {self.expected}, got {self.actual}"
        return text


@dataclass
class ScenarioResult:
    scenario: Scenario
    results: list[ExpectationResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def failures(self) -> list[ExpectationResult]:
        return [r for r in self.results if not r.passed]


FacadeFactory = Callable[[CityConfig, int], Any]


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


def _presence(days: int | None) -> dict:
    # Only passed when given, so facades without presence days (test doubles) keep working.
    return {} if days is None else {"days_in_kazakhstan": days}


def _call(facade: Any, step: Step) -> Any:
    a = step.args
    v = step.verb
    if v == "onboard":
        return facade.onboard(actor=a.actor, kyc_tier=a.kyc, resident=a.resident, aifc_investor=a.aifc_investor,
                              deposits={m.asset: m.amount_minor for m in a.deposits},
                              **_presence(a.days_in_kazakhstan))
    if v in ("faucet", "deposit"):
        return getattr(facade, v)(actor=a.actor, asset=a.amount.asset, amount_minor=a.amount.amount_minor)
    if v == "buy":
        return facade.buy(actor=a.actor, instrument=a.instrument, quote_qty_minor=a.amount.amount_minor)
    if v == "sell":
        return facade.sell(actor=a.actor, instrument=a.instrument, qty_minor=a.amount.amount_minor)
    if v in ("mint", "redeem"):
        return getattr(facade, v)(actor=a.actor, amount_minor=a.amount.amount_minor)
    if v == "pay":
        return facade.pay(actor=a.actor, merchant=a.merchant, amount_minor=a.amount.amount_minor, ref=a.ref)
    if v == "capture" and not a.final:
        return facade.capture(ref=a.ref, amount_minor=a.amount.amount_minor if a.amount else None, final=False)
    if v in ("capture", "reverse", "refund"):
        return getattr(facade, v)(ref=a.ref, amount_minor=a.amount.amount_minor if a.amount else None)
    if v == "expire":
        return facade.expire(ref=a.ref)
    if v in ("force_post", "unlinked_refund"):
        return getattr(facade, v)(actor=a.actor, merchant=a.merchant, amount_minor=a.amount.amount_minor, ref=a.ref)
    if v == "advance":
        return facade.advance(a.by)
    if v in ("suspend_licence", "reinstate_licence"):
        return getattr(facade, v)(licence_id=a.licence, reason=a.reason)
    raise AssertionError(f"unhandled verb {v}")  # pragma: no cover - the loader admits only known verbs


def run_scenario(scenario: Scenario, factory: FacadeFactory, clock: Callable[[], float] | None = None) -> ScenarioResult:
    """Onboard the actors, run every step, match every expectation. Stops at an unexpected error."""
    import time
    timer = clock or time.perf_counter
    started = timer()
    result = ScenarioResult(scenario)
    add = result.results.append
    try:
        facade = factory(scenario.config, scenario.seed)
        for name, actor in scenario.actors.items():
            facade.onboard(actor=name, kyc_tier=actor.kyc, resident=actor.resident, aifc_investor=actor.aifc_investor,
                           deposits={m.asset: m.amount_minor for m in actor.deposits},
                           **_presence(actor.days_in_kazakhstan))
    except Exception as error:  # noqa: BLE001 - reported as a failed expectation, never a traceback
        add(ExpectationResult("set up the city and onboard the actors", "ok", _error_text(error), "setup", False))
        result.seconds = timer() - started
        return result
    for step in scenario.steps:
        if step.verb == "expect":
            result.results.extend(match_block(facade, step))
            result.results.extend(match_events(facade, step, step.args, None))
            continue
        mark = _event_mark(facade, step.expect)
        try:
            outcome = _call(facade, step)
            error = None
        except Exception as exc:  # noqa: BLE001
            outcome, error = None, exc
        checks = match_step(step, outcome, error) + match_events(facade, step, step.expect, mark)
        result.results.extend(checks)
        if error is not None and not (step.expect and (step.expect.error or step.expect.status == "error")):
            break  # the city is in a state the scenario did not plan for
    result.seconds = timer() - started
    return result


MAX_EVENTS_READ = 1000   # events one expectation looks at (ten pages of the log)
_NO_MARK = object()


def _wants_events(expect: Any) -> bool:
    return expect is not None and (getattr(expect, "events", None) is not None
                                   or getattr(expect, "events_exactly", None) is not None)


def _event_mark(facade: Any, expect: Any) -> Any:
    """The newest event id before a step whose ``expect`` names events (the step's events come after it)."""
    if not _wants_events(expect) or not hasattr(facade, "last_event_id"):
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


def _shown(events: list[dict], patterns: list) -> str:
    """The events as a failure line shows them: each type with the fields the patterns asked about."""
    keys = sorted({k for p in patterns for k in p.data})
    parts = []
    for e in events[:20]:
        fields = {k: e["data"][k] for k in keys if k in e["data"]}
        parts.append(e["type"] + (f" {fields}" if fields else ""))
    more = f" … and {len(events) - 20} more" if len(events) > 20 else ""
    return "[" + ", ".join(parts) + more + "]" if parts else "no events"


def _wanted(patterns: list) -> str:
    return "[" + ", ".join(p.type + (f" {p.data}" if p.data else "") for p in patterns) + "]"


def _in_order(patterns: list, events: list[dict]) -> bool:
    """Each pattern matches an event, in the patterns' order (other events may come between)."""
    at = 0
    for pattern in patterns:
        while at < len(events) and not _event_matches(pattern, events[at]):
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


def match_step(step: Step, outcome: Any, error: BaseException | None) -> list[ExpectationResult]:
    """Compare one step's result (or raised error) with its ``expect``."""
    out: list[ExpectationResult] = []
    e = step.expect
    status = "error" if error is not None else (_get(outcome, "status") or "ok")
    if e is None:
        if error is not None:
            out.append(ExpectationResult("completes without error", "ok", _error_text(error), step.label, False))
        return out
    if error is not None and not (e.error or e.status == "error"):
        out.append(ExpectationResult("completes without error", "ok", _error_text(error), step.label, False))
        return out
    if e.status is not None:
        out.append(ExpectationResult("status", e.status, status, step.label, status == e.status))
    if e.response_code is not None:
        code = _get(outcome, "response_code")
        out.append(ExpectationResult("response code", e.response_code, code, step.label, str(code) == e.response_code))
    if e.reason_contains is not None:
        reason = str(error) if error is not None else (_get(outcome, "reason") or "")
        out.append(ExpectationResult("reason mentions", repr(e.reason_contains), repr(reason[:MAX_MESSAGE]), step.label,
                                     e.reason_contains.lower() in reason.lower()))
    if e.error is not None:
        code = getattr(error, "code", None) if error is not None else None
        out.append(ExpectationResult("error", e.error, code or "no error", step.label, code == e.error))
    if e.flags is not None:
        got = _rule_names(_get(outcome, "flags"))
        ok = set(e.flags) <= set(got) if e.flags else not got
        out.append(ExpectationResult("flags on this step", sorted(e.flags), sorted(got), step.label, ok))
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
    for actor, wanted in (b.flags or {}).items():
        flags, error = safe(facade.flags, actor)
        got = sorted(_rule_names(flags)) if error is None else _error_text(error)
        ok = error is None and (set(wanted) <= set(got) if wanted else not got)
        out.append(ExpectationResult(f"{actor} flags", sorted(wanted) or "none", got or "none", label, ok))
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
            n = len(data["disposals"])
            out.append(ExpectationResult(f"{actor} disposals", t.disposals, n, label, n == t.disposals))
        if t.pit is not None:
            have = data["pit_kzt_minor"]
            out.append(ExpectationResult(f"{actor} personal income tax", _amt(t.pit), format_amount(have, "KZT"), label,
                                         have == t.pit.amount_minor))
        if t.net_gain is not None:
            have = data["net_gain_kzt_minor"]
            out.append(ExpectationResult(f"{actor} net gain", _amt(t.net_gain), format_amount(have, "KZT"), label,
                                         have == t.net_gain.amount_minor))
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

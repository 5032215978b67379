"""Run a scenario against a facade (duck-typed: the lead's CryptoCity) and match expectations.

The runner calls these facade methods (keyword arguments, amounts in minor units):

    onboard(actor, kyc_tier, resident, aifc_investor, deposits: dict[asset, int][, days_in_kazakhstan])
    faucet(actor, asset, amount_minor)         deposit(actor, asset, amount_minor)
    buy(actor, instrument, quote_qty_minor) sell(actor, instrument, qty_minor)
    mint(actor, amount_minor)                  redeem(actor, amount_minor)
    pay(actor, merchant, amount_minor, ref[, channel, expiry, cvv]) -> result: status, response_code, reason, flags
    card_details(actor) -> {"expiry": "MM/YY", "cvv": "123"} (for an online purchase's ``correct``/``wrong``)
    capture(ref, amount_minor=None, key=None[, final=False])  reverse(…)  refund(…)   (key, final only passed when given)
    expire(ref)                                force_post / unlinked_refund(actor, merchant, amount_minor, ref)
    advance(delta: timedelta)                  now() -> aware datetime (for advance_to and a step's at:)
    set_kyc_tier(actor, kyc_tier, reason)      renew_licence(licence_id, valid_until, reason)
    withdraw(actor, asset, address, amount_minor, key)   whitelist_address(actor, chain, address)
    deposit_address(actor, chain)              account_balance(code) -> int
    increment(ref, amount_minor) -> result with status, response_code, reason (a bigger hold)
    advise(actor, merchant, amount_minor, ref) -> the booking of a stand-in approval (status "approved")
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
from decimal import Decimal
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
    context: str = ""     # what the step answered (a decline's code and reason, an error), shown on a failure

    def describe(self) -> str:
        mark = "PASS" if self.passed else "FAIL"
        text = f"{mark} {self.step}: {self.expectation}"
        if not self.passed:
            text += f" — expected {self.expected}, got {self.actual}"
            if self.context:
                text += f" [{self.context}]"
        return text


@dataclass(frozen=True)
class StepRecord:
    """One step as it ran: its label and verb, what it answered (a decline's code and reason, an error),
    and the money it moved: per actor and asset, the change of the available balance (minor units)."""
    label: str
    verb: str
    answer: str
    moved: dict[str, dict[str, int]]


@dataclass
class ScenarioResult:
    scenario: Scenario
    results: list[ExpectationResult] = field(default_factory=list)
    seconds: float = 0.0
    steps: list[StepRecord] = field(default_factory=list)   # filled when run with track_money=True

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
        online = {} if a.channel == "card_present" else _typed_details(facade, a)
        return facade.pay(actor=a.actor, merchant=a.merchant, amount_minor=a.amount.amount_minor, ref=a.ref,
                          **online, **({} if a.kind is None else {"kind": a.kind}))
    if v in ("capture", "reverse", "refund"):
        extra = {} if a.key is None else {"key": a.key}
        if v == "capture" and not a.final:
            extra["final"] = False
        return getattr(facade, v)(ref=a.ref, amount_minor=a.amount.amount_minor if a.amount else None, **extra)
    if v == "advice":
        return facade.advise(actor=a.actor, merchant=a.merchant, amount_minor=a.amount.amount_minor, ref=a.ref,
                             **({} if a.kind is None else {"kind": a.kind}))
    if v == "increment":
        return facade.increment(ref=a.ref, amount_minor=a.amount.amount_minor)
    if v == "expire":
        return facade.expire(ref=a.ref)
    if v in ("force_post", "unlinked_refund"):
        return getattr(facade, v)(actor=a.actor, merchant=a.merchant, amount_minor=a.amount.amount_minor, ref=a.ref)
    if v == "advance":
        return facade.advance(a.by)
    if v == "advance_to":
        return advance_to(facade, a.at)
    if v == "set_kyc":
        return facade.set_kyc_tier(actor=a.actor, kyc_tier=a.tier, reason=a.reason)
    if v == "renew_licence":
        return facade.renew_licence(licence_id=a.licence, valid_until=a.valid_until, reason=a.reason)
    if v == "withdraw":
        address = a.address or facade.deposit_address(actor=a.to, chain="bitcoin")
        key = a.key or f"scenario:{step.index}:{a.actor}"
        return facade.withdraw(actor=a.actor, asset=a.amount.asset, address=address,
                               amount_minor=a.amount.amount_minor, key=key)
    if v == "whitelist":
        address = a.address or facade.deposit_address(actor=a.to, chain=a.chain)
        return facade.whitelist_address(actor=a.actor, chain=a.chain, address=address)
    if v in ("suspend_licence", "reinstate_licence"):
        return getattr(facade, v)(licence_id=a.licence, reason=a.reason)
    raise AssertionError(f"unhandled verb {v}")  # pragma: no cover - the loader admits only known verbs


def as_saved(outcome: Any, error: BaseException | None) -> dict:
    """A step's result as ``${name.field}`` reads it: its fields (an error: ``status``, ``error``, ``message``)."""
    import dataclasses
    if error is not None:
        return {"status": "error", "error": getattr(error, "code", None), "message": str(error)}
    if dataclasses.is_dataclass(outcome) and not isinstance(outcome, type):
        return dataclasses.asdict(outcome)
    if hasattr(outcome, "to_dict"):
        return outcome.to_dict()
    return dict(outcome) if isinstance(outcome, dict) else {"value": outcome}


def _expects_error(expect: Any) -> bool:
    if expect is None:
        return False
    return bool(expect.error or expect.status == "error" or any(_expects_error(alt) for alt in expect.one_of or []))


def _typed_details(facade: Any, a: Any) -> dict:
    """What the customer typed online: the card's own expiry and CVV (``correct``, read through the
    operator's reveal), a ``wrong`` one (the card's, changed), or the digits the file gives."""
    card = facade.card_details(a.actor) if "correct" in (a.expiry, a.cvv) or "wrong" in (a.expiry, a.cvv) else None

    def wrong_expiry(expiry: str) -> str:
        month, year = expiry.split("/")
        return f"{int(month) % 12 + 1:02d}/{year}"

    expiry = {"correct": lambda: card["expiry"], "wrong": lambda: wrong_expiry(card["expiry"])}.get(
        a.expiry, lambda: a.expiry)()
    cvv = {"correct": lambda: card["cvv"], "wrong": lambda: f"{(int(card['cvv']) + 1) % 1000:03d}"}.get(
        a.cvv, lambda: a.cvv)()
    return {"channel": a.channel, "expiry": expiry, "cvv": cvv}


class ClockError(Exception):
    code = "clock_moves_forward"


def advance_to(facade: Any, at: Any) -> Any:
    """Move the sandbox clock to the absolute time ``at`` (aware); refused if that is in the past."""
    now = facade.now()
    if at < now:
        raise ClockError(f"the sandbox clock only moves forward: it is {now.isoformat()} already, "
                         f"after {at.isoformat()}")
    return facade.advance(at - now)


def _holdings(facade: Any, actors: list[str]) -> dict[str, dict[str, int]]:
    out = {}
    for actor in actors:
        try:
            out[actor] = {asset: int(v) for asset, v in dict(facade.balances(actor)).items()}
        except Exception:  # noqa: BLE001 - an actor not onboarded (yet): holds nothing
            out[actor] = {}
    return out


def _moved(before: dict[str, dict[str, int]], after: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for actor in after:
        deltas = {asset: after[actor].get(asset, 0) - before.get(actor, {}).get(asset, 0)
                  for asset in sorted(set(after[actor]) | set(before.get(actor, {})))}
        deltas = {asset: d for asset, d in deltas.items() if d}
        if deltas:
            out[actor] = deltas
    return out


def run_scenario(scenario: Scenario, factory: FacadeFactory, clock: Callable[[], float] | None = None,
                 *, track_money: bool = False) -> ScenarioResult:
    """Onboard the actors, run every step, match every expectation. Stops at an unexpected error.
    ``track_money``: also record, for each step, the change of every actor's available balances (what
    the HTML report shows as the money the step moved; two reads per actor per step)."""
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
    saved: dict[str, Any] = {}
    for step in scenario.steps:
        if step.verb == "expect":
            result.results.extend(match_block(facade, step))
            result.results.extend(match_events(facade, step, step.args, None))
            if track_money:
                result.steps.append(StepRecord(step.label, step.verb, "checked", {}))
            continue
        try:
            step = step.filled(saved)
        except Exception as exc:  # noqa: BLE001 - a saved result without that field, or a filled-in value refused
            result.results.append(ExpectationResult("fill in the saved results", "values", _error_text(exc),
                                                    step.label, False))
            break
        mark = _event_mark(facade, step.expect)
        before = _holdings(facade, list(scenario.actors)) if track_money else None
        try:
            if step.at is not None:
                advance_to(facade, step.at)
            outcome = _call(facade, step)
            error = None
        except Exception as exc:  # noqa: BLE001
            outcome, error = None, exc
        if step.save is not None:
            saved[step.save] = as_saved(outcome, error)
        checks = match_step(step, outcome, error) + match_events(facade, step, step.expect, mark)
        result.results.extend(checks)
        if track_money:
            answer = _context(outcome, error) or str(_get(outcome, "status") or "ok")
            result.steps.append(StepRecord(step.label, step.verb, answer,
                                           _moved(before, _holdings(facade, list(scenario.actors)))))
        if error is not None and not _expects_error(step.expect):
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

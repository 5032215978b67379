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
    set_card_controls(actor, changes: dict)    (the API's control names; only those given change)
    withdraw(actor, asset, address, amount_minor, key)   whitelist_address(actor, chain, address)
    deposit_address(actor, chain)              account_balance(code) -> int
    increment(ref, amount_minor) -> result with status, response_code, reason (a bigger hold)
    advise(actor, merchant, amount_minor, ref) -> the booking of a stand-in approval (status "approved")
    suspend_licence(licence_id, reason)        reinstate_licence(licence_id, reason)
    balances(actor) -> Mapping[asset, int]: AVAILABLE minor units (ledger minus holds); "KZT" = the card's bank account
    flags(actor) -> list of rule names or (rule, reason), every flag raised for the actor so far
    tax_statement(actor, year) -> TaxStatement (or its to_dict())
    verify()                                   raises if an invariant is broken
    register_farm(farm, location, power_source, hashrate_ths, efficiency_j_per_th, max_load_kw, meter_working,
                  licensed, sell_pct)        meter(farm, working)   pay_levy(farm)   detect()   close_farm(farm, reason)

A step result may be an object or a dict; ``status`` defaults to "ok". A raised exception
with a ``code`` attribute becomes status "error" with that code (expectable with ``error:``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ledger.errors import DomainError

from ..config import CityConfig
from .loader import Scenario, Step
from .matching import ExpectationResult, _context, _error_text, _event_mark, _get, match_block, match_events, match_step
from .webhooks import Receivers, WebhookPort, match_deliveries

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
    if v == "set_controls":
        return facade.set_card_controls(actor=a.actor, changes=a.changes())
    if v == "renew_licence":
        return facade.renew_licence(licence_id=a.licence, valid_until=a.valid_until, reason=a.reason,
                                    applied_at=a.applied_at, exit_plan=a.exit_plan)
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
    if v == "register_farm":
        return facade.register_farm(farm=a.farm, location=a.location, power_source=a.power_source,
                                    hashrate_ths=a.hashrate_ths, efficiency_j_per_th=str(a.efficiency_j_per_th),
                                    max_load_kw=a.max_load_kw, meter_working=a.meter_working, licensed=a.licensed,
                                    sell_pct=a.sell_pct)
    if v == "meter":
        return facade.meter(farm=a.farm, working=a.working)
    if v == "pay_levy":
        return facade.pay_levy(farm=a.farm)
    if v == "detect":
        return facade.detect()
    if v == "close_farm":
        return facade.close_farm(farm=a.farm, reason=a.reason)
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


class ClockError(DomainError):
    """``advance_to`` (or a step's ``at:``) a time the city has passed: its clock only moves forward."""
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
    receivers = port = None
    try:
        facade = factory(scenario.config, scenario.seed)
        if scenario.webhooks:   # before the set-up, so its events are delivered too
            receivers = Receivers(scenario.webhooks)   # its server is shut down at the end even if the port fails
            port = WebhookPort(facade)
            receivers.register(port)
        for name, actor in scenario.actors.items():
            facade.onboard(actor=name, kyc_tier=actor.kyc, resident=actor.resident, aifc_investor=actor.aifc_investor,
                           deposits={m.asset: m.amount_minor for m in actor.deposits},
                           **_presence(actor.days_in_kazakhstan))
    except Exception as error:  # noqa: BLE001 - reported as a failed expectation, never a traceback
        add(ExpectationResult("set up the city and onboard the actors", "ok", _error_text(error), "setup", False))
        result.seconds = timer() - started
        if receivers is not None:
            receivers.close()
        return result
    try:
        _run_steps(scenario, facade, result, track_money, receivers, port)
    finally:
        if receivers is not None:
            receivers.close()
    result.seconds = timer() - started
    return result


def _run_steps(scenario: Scenario, facade: Any, result: ScenarioResult, track_money: bool,
               receivers: Receivers | None, port: WebhookPort | None) -> None:
    def deliveries(step: Step, expect: Any, mark: Any) -> list[ExpectationResult]:
        return match_deliveries(receivers, port, facade, step, expect, mark, scenario.webhooks)

    saved: dict[str, Any] = {}
    for step in scenario.steps:
        if step.verb == "expect":
            result.results.extend(match_block(facade, step))
            result.results.extend(match_events(facade, step, step.args, None))
            result.results.extend(deliveries(step, step.args, None))
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
        checks = (match_step(step, outcome, error) + match_events(facade, step, step.expect, mark)
                  + deliveries(step, step.expect, mark))
        result.results.extend(checks)
        if track_money:
            answer = _context(outcome, error) or str(_get(outcome, "status") or "ok")
            result.steps.append(StepRecord(step.label, step.verb, answer,
                                           _moved(before, _holdings(facade, list(scenario.actors)))))
        if error is not None and not _expects_error(step.expect):
            break  # the city is in a state the scenario did not plan for


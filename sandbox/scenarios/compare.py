"""``cryptocity compare``: one scenario under several regimes, side by side.

The scenario file names one configuration in its header (``config:``); compare runs the same actors and
steps once per preset (or YAML file) given on the command line instead — the file's ``config_overrides``
and ``merchants_add`` laid over each — every regime on a fresh SQLite city with the scenario's seed.
Unlike ``cryptocity run`` it does not stop at a refusal: under a stricter regime a later step may fail
because an earlier one was declined, and that is part of the comparison. Per step it records what the
city answered (approved, declined with the ISO response code and reason, or an error's code), the fees
the city's fee accounts collected and the personal income tax the step added to the actors' statements.
"""
from __future__ import annotations

import dataclasses
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledger import format_amount

from ..config import CityConfig, ConfigError, load_config
from .loader import Scenario, ScenarioError, Step, _resolve_config, load_scenario, parse_with_lines
from .matching import MAX_MESSAGE, _error_text, _get, match_block, match_step
from .model import ScenarioHeader
from .runner import _call, _presence, advance_to, as_saved

# The ledger accounts fees are paid into (minor units of KZT), by who charged them.
FEE_ACCOUNTS = (("conversion", "fees:card-programme:KZT"),    # the card's crypto-to-tenge conversion fee
                ("merchant", "fees:card-acquirer:KZT"),       # the merchant discount (MDR) at capture
                ("exchange", "fees:exchange:KZT"))             # maker and taker fees on the exchange


@dataclass(frozen=True)
class StepOutcome:
    """One step under one regime: ``outcome`` is approved, declined, ok, error or checked (an expect step);
    ``fees_minor`` per fee kind and ``pit_minor`` (income tax added to the actors' statements) in tiyn."""
    step: int
    label: str
    outcome: str
    response_code: str | None
    reason: str
    fees_minor: dict[str, int]
    pit_minor: int
    expectations_failed: int


@dataclass
class RegimeRun:
    preset: str
    name: str
    crypto_payments_allowed: bool
    seed: int
    steps: list[StepOutcome] = field(default_factory=list)
    # why the scenario could not run under this regime at all: its merchants_add or config_overrides do not
    # fit the preset (e.g. a merchant licensed by a regulator the preset does not have); None: it ran
    refused: str | None = None
    # after the last step: "verified" (every ledger invariant, the KZTE peg, the audit chain) or the problem
    invariants: str = ""
    # when the scenario runs mining farms: the levy collected, BTC mined and sold, the flags raised
    mining: dict[str, Any] | None = None

    def totals(self) -> dict[str, Any]:
        count = lambda what: sum(s.outcome == what for s in self.steps)   # noqa: E731
        fees = {kind: sum(s.fees_minor.get(kind, 0) for s in self.steps) for kind, _ in FEE_ACCOUNTS}
        return {"approved": count("approved"), "declined": count("declined"), "errors": count("error"),
                "fees_minor": fees, "fees_total_minor": sum(fees.values()),
                "pit_minor": sum(s.pit_minor for s in self.steps),
                "expectations_failed": sum(s.expectations_failed for s in self.steps)}

    def to_dict(self) -> dict[str, Any]:
        return {"preset": self.preset, "name": self.name, "crypto_payments_allowed": self.crypto_payments_allowed,
                "seed": self.seed, "refused": self.refused, "invariants": self.invariants, "steps": [dataclasses.asdict(s) for s in self.steps],
                "totals": self.totals(), "mining": self.mining}


def scenario_under(path: str | Path, preset: str) -> Scenario:
    """The scenario of ``path`` with its configuration replaced by ``preset`` (a preset name or a YAML path,
    relative to the current directory), its overrides and added merchants kept; ConfigError if that
    configuration is invalid, ScenarioError if the file is."""
    scenario = load_scenario(path)
    path = Path(path)
    data, _ = parse_with_lines(path.read_text(encoding="utf-8"), str(path))
    header = ScenarioHeader.model_validate({k: v for k, v in data.items() if k != "steps"})
    ref = str(Path(preset).resolve()) if preset.endswith((".yaml", ".yml")) else preset
    cfg, config_data = _resolve_config(header.model_copy(update={"config": ref}), path.parent)
    seed = header.seed if header.seed is not None else cfg.sandbox.seed
    return dataclasses.replace(scenario, config=cfg, seed=seed, config_data=config_data, config_name=ref)


def compare(path: str | Path, presets: list[str]) -> list[RegimeRun]:
    """Run the scenario of ``path`` once per preset, each on a fresh city; the same inputs give the same
    outcomes (the scenario's seed, sandbox time only)."""
    load_scenario(path)                              # an invalid file: ScenarioError before anything runs
    for preset in presets:
        load_config(preset)                          # an unknown or invalid preset: ConfigError, likewise
    runs = []
    for preset in presets:
        try:
            scenario = scenario_under(path, preset)
        except ConfigError as error:                 # the file's additions do not fit this preset: a column
            cfg = load_config(preset)                # that says so, the other regimes still run
            runs.append(RegimeRun(preset, cfg.sandbox.name, cfg.crypto_payments_allowed, cfg.sandbox.seed,
                                  refused="; ".join(f"{where}: {what}" for where, what in error.problems)[:MAX_MESSAGE]))
            continue
        runs.append(run_under(preset, scenario))
    return runs


def run_under(preset: str, scenario: Scenario) -> RegimeRun:
    """Every step of ``scenario`` on a fresh city of its configuration, refusals recorded, never stopping."""
    from ..city import CryptoCity

    cfg: CityConfig = scenario.config
    run = RegimeRun(preset, cfg.sandbox.name, cfg.crypto_payments_allowed, scenario.seed)
    with tempfile.TemporaryDirectory(prefix="cryptocity-compare-") as workdir:
        city = CryptoCity.from_config(cfg, db=f"sqlite:///{Path(workdir) / 'city.db'}", seed=scenario.seed)
        try:
            _run_steps(city, scenario, run)
            run.mining = _mining(city)
            try:
                city.verify()
                run.invariants = "verified"
            except Exception as error:  # noqa: BLE001 - reported in the table, never a traceback
                run.invariants = f"BROKEN: {error}"[:MAX_MESSAGE]
        finally:
            city.close()
    return run


def _run_steps(city: Any, scenario: Scenario, run: RegimeRun) -> None:
    actors = list(scenario.actors)
    start_year = scenario.config.sandbox.start.astimezone(scenario.config.sandbox.zone).year
    for name, actor in scenario.actors.items():
        try:
            city.onboard(actor=name, kyc_tier=actor.kyc, resident=actor.resident, aifc_investor=actor.aifc_investor,
                         deposits={m.asset: m.amount_minor for m in actor.deposits}, **_presence(actor.days_in_kazakhstan))
        except Exception as error:  # noqa: BLE001 - a regime may refuse an actor: recorded, the rest still runs
            run.steps.append(StepOutcome(0, f"onboard {name}", "error", None, _error_text(error), {}, 0, 0))
    saved: dict[str, Any] = {}
    fees_before, pit_before = _fees(city), _pit(city, actors, start_year)   # then each step's after, carried on
    for step in scenario.steps:
        if step.verb == "expect":
            failed = sum(not r.passed for r in match_block(city, step))
            run.steps.append(StepOutcome(step.index, _label(step), "checked", None, "", {}, 0, failed))
            continue
        outcome, error = None, None
        try:
            step = step.filled(saved)
            if step.at is not None:
                advance_to(city, step.at)
            outcome = _call(city, step)
        except Exception as exc:  # noqa: BLE001 - a refusal is an outcome here
            error = exc
        if step.save is not None:
            saved[step.save] = as_saved(outcome, error)
        checks = match_step(step, outcome, error)
        fees_after, pit_after = _fees(city), _pit(city, actors, start_year)
        run.steps.append(StepOutcome(
            step.index, _label(step), *_answer(outcome, error),
            {kind: fees_after[kind] - fees_before[kind] for kind in fees_after if fees_after[kind] != fees_before[kind]},
            pit_after - pit_before, sum(not c.passed for c in checks)))
        fees_before, pit_before = fees_after, pit_after


def _answer(outcome: Any, error: BaseException | None) -> tuple[str, str | None, str]:
    if error is not None:
        return "error", getattr(error, "code", None), str(error)[:MAX_MESSAGE] or type(error).__name__
    status = str(_get(outcome, "status") or "ok")
    code = _get(outcome, "response_code")
    if status in ("approved", "declined"):
        return status, code, str(_get(outcome, "reason") or "") if status == "declined" else ""
    return "ok", code, ""


def _mining(city: Any) -> dict[str, Any] | None:
    """The mining figures a regime is compared on, or None when the scenario ran no farm."""
    summary = city.mining_summary()
    if not summary["farms"]:
        return None
    t = summary["totals"]
    return {"farms": len(summary["farms"]), "levy_revenue_minor": summary["levy_revenue_minor"],
            "levy_unpaid_minor": t["levy_unpaid_minor"], "mined_sat": t["mined_sat"], "sold_sat": t["sold_sat"],
            "seized_sat": t["seized_sat"], "flags": sorted({f["rule"] for f in summary["flags"]})}


def _fees(city: Any) -> dict[str, int]:
    # fee accounts are revenue: credits make them negative in the ledger's signed balances
    return {kind: abs(int(city.account_balance(code))) for kind, code in FEE_ACCOUNTS}


def _pit(city: Any, actors: list[str], start_year: int) -> int:
    """Personal income tax on the actors' statements, every year from the scenario's start to now."""
    now_year = city.now().astimezone(city.cfg.sandbox.zone).year
    total = 0
    for actor in actors:
        for year in range(start_year, now_year + 1):
            try:
                total += int(_get(city.tax_statement(actor, year), "pit_kzt_minor") or 0)
            except Exception:  # noqa: BLE001 - an actor a regime did not onboard owes nothing
                continue
    return total


def _label(step: Step) -> str:
    a = step.args
    parts = [f"{step.index} {step.verb}"]
    if step.name:
        parts.append(step.name)
    amount = getattr(a, "amount", None)
    if amount is not None and hasattr(amount, "amount_minor"):
        parts.append(format_amount(amount.amount_minor, amount.asset))
    if getattr(a, "merchant", None):
        parts.append(f"at {a.merchant}")
    elif step.verb == "advance":
        parts.append(str(getattr(a, "by", a)))
    return " ".join(parts)


__all__ = ["FEE_ACCOUNTS", "RegimeRun", "ScenarioError", "StepOutcome", "compare", "run_under", "scenario_under"]

"""The fuzzer's steps, written as scenario steps (docs/scenarios.md) and run by the scenario runner's
own verb dispatch, so a shrunk failure written out as a file replays exactly what the fuzzer did."""
from __future__ import annotations

from typing import Any

import yaml

from ledger.amounts import format_amount
from ledger.errors import DomainError

from ..scenarios import runner
from ..scenarios.loader import Step, scenario_from_text
from ..scenarios.model import STEP_MODELS

ACTORS = {
    "aigerim": {"kyc": "full", "resident": True,
                "deposits": ["200 000.00 KZT", "0.02 BTC", "300.00 USDT", "0.5 ETH"]},
    "dias": {"kyc": "full", "resident": True, "deposits": ["500.00 USDT"]},
    "arman": {"kyc": "full", "days_in_kazakhstan": 100, "deposits": ["0.05 BTC", "1.0 ETH"]},
}
MERCHANTS = ("alatau-coffee", "zone-market", "steppe-electronics", "almaty-books")
INSTRUMENTS = {"BTC/KZT": "BTC", "ETH/KZT": "ETH", "USDT/KZT": "USDT"}
LICENCES = ("AFSA-TF-001", "NBK-SC-001", "NBK-CC-003")
ADVANCES = ("10m", "2h", "1d", "3d", "8d")


def amount(minor: int, asset: str) -> str:
    return format_amount(minor, asset)


def header(config: str, seed: int) -> dict:
    return {"name": "fuzz", "config": config, "seed": seed, "actors": ACTORS}


def scenario_text(config: str, seed: int, steps: list[dict], *, name: str, description: str = "",
                  final_expect: dict | None = None) -> str:
    doc: dict[str, Any] = {"name": name}
    if description:
        doc["description"] = description
    doc.update({"config": config, "seed": seed, "actors": ACTORS})
    doc["steps"] = list(steps) + [{"expect": final_expect or {"verify": True}}]
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=120)


class StepRunner:
    """Parses one step through the scenario loader (so it is a valid scenario step) and runs it."""

    def __init__(self, config: str, seed: int) -> None:
        self.config, self.seed = config, seed

    def parse(self, step: dict) -> Step:
        """The step as the loader reads it (the same models validate it; the whole file is checked once
        written out)."""
        verb = next(iter(step))
        return Step(0, 0, verb, STEP_MODELS[verb][0].model_validate(step[verb]))

    def onboard(self, facade, scenario_header: dict) -> None:
        """Onboard the actors as ``cryptocity run`` does before the first step."""
        scenario = scenario_from_text(scenario_text(self.config, self.seed, [{"advance": "1m"}], name="setup"))
        for name, actor in scenario.actors.items():
            facade.onboard(actor=name, kyc_tier=actor.kyc, resident=actor.resident, aifc_investor=actor.aifc_investor,
                           deposits={m.asset: m.amount_minor for m in actor.deposits},
                           **runner._presence(actor.days_in_kazakhstan))

    def run(self, facade, step: dict) -> tuple[Any, DomainError | None]:
        """The step's outcome, or the domain refusal it met (a refusal is a valid answer; anything else raises)."""
        parsed = self.parse(step)
        try:
            return runner._call(facade, parsed), None
        except DomainError as error:
            return None, error
        except runner.ClockError as error:  # pragma: no cover - the fuzzer only moves the clock forward
            return None, error

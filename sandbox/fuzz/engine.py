"""One ``cryptocity fuzz`` run: Hypothesis drives :class:`CityMachine` until the step budget is spent or an
invariant breaks; a failure (shrunk by Hypothesis) is written out as a scenario file."""
from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from hypothesis import HealthCheck, Phase, seed as hypothesis_seed, settings as Settings
from hypothesis.stateful import get_state_machine_test

from . import machine
from .faults import ENV
from .machine import FEE_ACCOUNT, CityMachine, Run
from .steps import amount, scenario_text

STEPS_PER_EXAMPLE = 50


@dataclass
class FuzzReport:
    steps_run: int
    examples: int
    checks: int
    verbs: dict[str, int] = field(default_factory=dict)
    failure: str | None = None          # what broke (None: every invariant held)
    scenario_path: Path | None = None   # the shrunk failing scenario
    scenario_steps: int = 0

    @property
    def passed(self) -> bool:
        return self.failure is None


def run_fuzz(config: str, steps: int, seed: int, out_dir: Path, on_step: Callable[[], None] | None = None,
             fault: str | None = None, example_steps: int = STEPS_PER_EXAMPLE) -> FuzzReport:
    """Run at least ``steps`` random steps (whole examples of at most ``example_steps``) on ``config``,
    deterministically for ``seed``. On a failure, write the shrunk case to ``out_dir``."""
    workdir = Path(tempfile.mkdtemp(prefix="cryptocity-fuzz-"))
    run = Run(config, seed, workdir, steps, on_step)
    machine.RUN = run
    per_example = max(1, min(example_steps, steps))
    failure_text = None
    try:
        rounds = 0
        while run.steps_run < steps and failure_text is None:
            # Hypothesis picks each example's length (at most per_example): rounds until the budget is spent,
            # each with its own seed derived from ``seed`` (so the whole run stays deterministic)
            examples = max(1, -(-(steps - run.steps_run) // per_example))
            settings = Settings(max_examples=examples, stateful_step_count=per_example, database=None,
                                deadline=None, suppress_health_check=list(HealthCheck), derandomize=False,
                                print_blob=False, phases=[Phase.generate, Phase.shrink])
            test = hypothesis_seed(seed * 1000 + rounds)(get_state_machine_test(CityMachine, settings=settings))
            rounds += 1
            try:
                test()
            except Exception as error:  # noqa: BLE001 - the shrunk failure, reported below
                failure_text = str(error).splitlines()[0] if str(error) else type(error).__name__
    finally:
        machine.RUN = None
        shutil.rmtree(workdir, ignore_errors=True)
    report = FuzzReport(run.steps_run, run.examples, run.checks, dict(sorted(run.verbs.items())))
    if failure_text is not None and run.failure is not None:
        failed_steps, message, fees = run.failure
        report.failure = message
        report.scenario_steps = len(failed_steps)
        report.scenario_path = _write(out_dir, config, seed, failed_steps, message, fees, fault)
    elif failure_text is not None:
        report.failure = failure_text
    return report


def _write(out_dir: Path, config: str, seed: int, steps: list[dict], message: str, fees: int,
           fault: str | None) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"fuzz-{config}-seed{seed}.yaml"
    fault_note = f" (with the test-only fault {ENV}={fault})" if fault else ""
    description = (f"Written by cryptocity fuzz --config {config} --seed {seed}{fault_note}, shrunk to "
                   f"{len(steps)} steps. It broke: {message}")
    final = {"accounts": {FEE_ACCOUNT: amount(fees, "KZT")}, "verify": True}
    path.write_text(scenario_text(config, seed, steps, name=f"fuzz failure (seed {seed})", description=description,
                                  final_expect=final), encoding="utf-8")
    return path

"""``cryptocity fuzz``: property runs from the command line (the logic is in ``sandbox.fuzz.engine``)."""
from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import click


@click.command("fuzz")
@click.option("--config", "config_name", default="crypto-city", show_default=True, help="Preset name or YAML path.")
@click.option("--steps", default=1000, show_default=True, type=click.IntRange(1, 10_000_000),
              help="Steps to run in all (whole examples, each on a fresh city).")
@click.option("--seed", default=7, show_default=True, help="Same seed, same steps, same output.")
@click.option("--example-steps", default=50, show_default=True, type=click.IntRange(1, 1000),
              help="At most this many steps per example (fewer: a failure shrinks faster).")
@click.option("--out", "out_dir", default=".", show_default=True, type=click.Path(file_okay=False),
              help="Where a failing case is written as a scenario file.")
def fuzz_command(config_name: str, steps: int, seed: int, example_steps: int, out_dir: str) -> None:
    """Drive random valid verbs against fresh cities and check the invariants after every step (verify,
    the KZTE peg, the audit chain, every conversion fee on the fee account, every event once). A failure
    is shrunk to a scenario file that `cryptocity run FILE` reproduces; exit 1."""
    from rich.console import Console
    from rich.progress import Progress

    import warnings

    from .engine import run_fuzz
    from .faults import ENV

    # py-evm and py_ecc raise the recursion limit when they are first imported; inside an example that
    # makes Hypothesis warn that it will not put the limit back. Importing them first keeps the warning
    # (true, harmless, not the user's business) off the screen.
    import eth  # noqa: F401
    import py_ecc  # noqa: F401
    warnings.filterwarnings("ignore", message="The recursion limit will not be reset")
    fault = os.environ.get(ENV) or None
    console = Console(stderr=True)
    with (Progress(console=console, transient=True) if console.is_terminal else contextlib.nullcontext()) as bar:
        task = bar.add_task("fuzz", total=steps) if bar is not None else None
        on_step = (lambda: bar.advance(task)) if bar is not None else None
        report = run_fuzz(config_name, steps, seed, Path(out_dir), on_step=on_step, fault=fault,
                            example_steps=example_steps)
    click.echo(f"fuzz --config {config_name} --seed {seed}: {report.steps_run} steps in {report.examples} "
               f"cities, {report.checks} invariant checks")
    click.echo("verbs: " + ", ".join(f"{verb} {n}" for verb, n in report.verbs.items()))
    if report.passed:
        click.echo("PASS: no invariant broken")
        return
    click.echo(f"FAIL: {report.failure}")
    if report.scenario_path is not None:
        prefix = f"{ENV}={fault} " if fault else ""
        click.echo(f"shrunk to {report.scenario_steps} steps: {report.scenario_path}")
        click.echo(f"reproduce: {prefix}cryptocity run {report.scenario_path}")
    sys.exit(1)

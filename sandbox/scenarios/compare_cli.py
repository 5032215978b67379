"""The ``cryptocity compare`` command: a rich table (or JSON) of one scenario under several regimes."""
from __future__ import annotations

import json
import sys

import click

from ledger import format_amount

from .compare import FEE_ACCOUNTS, RegimeRun, StepOutcome

TABLE_WIDTH = 120   # fixed, so the same comparison prints the same bytes on any terminal


@click.command("compare")
@click.argument("presets", nargs=-1, required=True, metavar="PRESET PRESET...")
@click.option("--scenario", "scenario_path", required=True, type=click.Path(dir_okay=False),
              help="The scenario file to run under each regime (its own config: is replaced).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="table for people, json for machines.")
def compare_command(presets: tuple[str, ...], scenario_path: str, fmt: str) -> None:
    """Run one scenario under each preset (a name from `cryptocity presets` or a YAML file) and print the
    outcomes side by side: which steps were approved, declined and why, the fees and the income tax.
    Each regime runs on a fresh city with the scenario's seed: the same input prints the same output.
    Exit 2 on an invalid scenario or configuration."""
    from .compare import compare
    from .loader import ScenarioError

    if len(presets) < 2:
        raise click.UsageError("name at least two presets to compare, e.g. crypto-city aifc-classic")
    try:
        runs = compare(scenario_path, list(presets))
    except ScenarioError as error:
        click.secho(f"INVALID {error}", fg="red", err=True)
        sys.exit(2)
    except OSError as error:
        click.secho(f"INVALID {scenario_path}: {error.strerror}", fg="red", err=True)
        sys.exit(2)
    if fmt == "json":
        click.echo(json.dumps({"scenario": scenario_path, "regimes": [r.to_dict() for r in runs]},
                              indent=2, sort_keys=True, ensure_ascii=False))
        return
    print_table(scenario_path, runs)


def _kzt(amount_minor: int) -> str:
    return format_amount(amount_minor, "KZT")


def _cell(step: StepOutcome) -> str:
    if step.outcome == "checked":
        text = "expectations met" if not step.expectations_failed else f"{step.expectations_failed} expectation(s) failed"
        return f"[green]{text}[/]" if not step.expectations_failed else f"[yellow]{text}[/]"
    colour = {"approved": "green", "declined": "red", "error": "magenta"}.get(step.outcome, "default")
    head = step.outcome + (f" {step.response_code}" if step.response_code else "")
    lines = [f"[{colour}]{head}[/]"]
    if step.reason:
        lines.append(_escape(step.reason))
    fees = sum(step.fees_minor.values())
    if fees:
        lines.append("fees " + _kzt(fees) + " (" + ", ".join(
            f"{kind} {_kzt(step.fees_minor[kind])}" for kind, _ in FEE_ACCOUNTS if step.fees_minor.get(kind)) + ")")
    if step.pit_minor:
        lines.append(f"income tax {_kzt(step.pit_minor)}")
    return "\n".join(lines)


def _escape(text: str) -> str:
    from rich.markup import escape
    return escape(text)


def _mining_lines(m: dict | None) -> str:
    if not m:
        return ""
    return (f"\nmining: {m['farms']} farm(s), levy collected {_kzt(m['levy_revenue_minor'])}"
            + (f" (unpaid {_kzt(m['levy_unpaid_minor'])})" if m["levy_unpaid_minor"] else "")
            + f"\nBTC mined {format_amount(m['mined_sat'], 'BTC')}, sold {format_amount(m['sold_sat'], 'BTC')}"
            + (f", seized {format_amount(m['seized_sat'], 'BTC')}" if m["seized_sat"] else "")
            + f"\nflags {', '.join(m['flags']) or 'none'}")


def print_table(scenario_path: str, runs: list[RegimeRun]) -> None:
    """The side-by-side table: one row per step, one column per regime, totals last."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{scenario_path} under {len(runs)} regimes", show_lines=True)
    table.add_column("step")
    for run in runs:
        allowed = "crypto may pay" if run.crypto_payments_allowed else "crypto may not pay"
        table.add_column(f"{run.preset}\n{_escape(run.name)}\n({allowed})")
    if any(run.refused for run in runs):
        table.add_row("[bold]not run[/]", *(f"[red]cannot run this scenario here:[/] {_escape(run.refused)}"
                                             if run.refused else "" for run in runs))
    labels: dict[int | str, str] = {}
    for run in runs:
        for s in run.steps:
            labels.setdefault(s.step or s.label, s.label)
    for key, label in labels.items():
        cells = []
        for run in runs:
            found = next((s for s in run.steps if (s.step or s.label) == key), None)
            cells.append(_cell(found) if found else "-")
        table.add_row(_escape(label), *cells)
    table.add_row("[bold]totals[/]", *(
        f"{t['approved']} approved, {t['declined']} declined, {t['errors']} errors\n"
        f"fees {_kzt(t['fees_total_minor'])}\nincome tax {_kzt(t['pit_minor'])}\n"
        f"{t['expectations_failed']} of the file's expectations failed"
        + (f"\ninvariants {_escape(r.invariants)}" if r.invariants else "") + _mining_lines(r.mining)
        for r, t in ((r, r.totals()) for r in runs)))
    Console(width=TABLE_WIDTH, highlight=False).print(table)

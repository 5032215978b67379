"""The regulator summary as tables: one list of rows per table, for the zipped CSV report.

Each table keeps integers of minor units (``*_minor`` columns, named with their asset where a table mixes
assets) so a spreadsheet sums them exactly; empty values are empty cells, booleans ``true``/``false``.
The zip's bytes depend only on the summary: fixed member order and timestamps.
"""
from __future__ import annotations

import csv
import io
import zipfile

ZIP_TIMESTAMP = (2000, 1, 1, 0, 0, 0)  # every member gets this: the same summary gives the same bytes


def _cell(value) -> str:  # noqa: ANN001
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def tables(summary: dict) -> list[tuple[str, list[str], list[list]]]:
    """(file name, header, rows) for each table of the summary, in reading order."""
    card = summary["card"]
    kzte = summary["kzte"]
    inv = summary["invariants"]
    return [
        ("report.csv", ["city", "at", "timezone", "invariants_verified", "invariants_summary"],
         [[summary["city"], summary["at"], summary["timezone"], inv["verified"], inv["summary"]]]),
        ("card_totals.csv", ["figure", "value", "asset"],
         [[k, v, "KZT" if k.endswith("_minor") else ""] for k, v in card.items()]),
        ("card_by_day.csv", ["day", "authorizations", "approved", "declined", "approved_minor"],
         [[d["day"], d["authorizations"], d["approved"], d["declined"], d["approved_minor"]]
          for d in summary["card_by_day"]]),
        ("declines.csv", ["response_code", "reason", "count", "amount_minor", "example"],
         [[d["response_code"], d["reason"], d["count"], d["amount_minor"], d["example"]] for d in summary["declines"]]),
        ("aml_flags_by_rule.csv", ["rule", "count"], [[r, n] for r, n in summary["aml_flags"]["by_rule"].items()]),
        ("aml_flags.csv", ["customer", "merchant", "rule", "reason", "response_code"],
         [[f["customer"], f["merchant"], f["rule"], f["reason"], f["response_code"]]
          for f in summary["aml_flags"]["flagged"]]),
        ("exchange_volume.csv", ["symbol", "trades", "qty_minor", "notional_minor"],
         [[e["symbol"], e["trades"], e["qty_minor"], e["notional_minor"]] for e in summary["exchange"]]),
        ("kzte_reserves.csv", ["reserve_kzt_minor", "supply_kzte_minor", "liability_kzte_minor",
                               "excess_reserve_kzt_minor", "reserve_ratio", "peg_holds", "problem"],
         [[kzte.get("reserve_minor"), kzte.get("supply_minor"), kzte.get("liability_minor"),
           kzte.get("excess_reserve_minor"), kzte.get("reserve_ratio"), kzte.get("peg_holds"), kzte.get("problem")]]),
        ("licences.csv", ["id", "holder", "regulator", "scope", "status"],
         [[lic["id"], lic["holder"], lic["regulator"], lic["scope"], lic["status"]] for lic in summary["licences"]]),
        ("invariant_checks.csv", ["check"], [[str(c)] for c in inv.get("checks", [])]),
    ] + _optional(summary)


def _optional(summary: dict) -> list[tuple[str, list[str], list[list]]]:
    """The sections a city has only with a shared EVM node (custody on chain) or with mining farms."""
    out = []
    if summary.get("custody_onchain"):
        out.append(("custody_onchain.csv", ["asset", "onchain_minor", "ledger_minor", "difference_minor", "agrees"],
                    [[a, c["onchain_minor"], c["ledger_minor"], c["difference_minor"], c["agrees"]]
                     for a, c in summary["custody_onchain"].items()]))
    mining = summary.get("mining") or {}
    if mining.get("farms"):
        out.append(("mining.csv", ["figure", "value"],
                    [[k, v] for k, v in mining.items() if not isinstance(v, (list, dict))]))
    return out


def to_csv_text(header: list[str], rows: list[list]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([[_cell(v) for v in row] for row in rows])
    return out.getvalue()


def to_csv_zip(summary: dict) -> bytes:
    """One CSV per table, zipped (deflated), deterministic bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, header, rows in tables(summary):
            info = zipfile.ZipInfo(f"regulator-report/{name}", date_time=ZIP_TIMESTAMP)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, to_csv_text(header, rows))
    return buffer.getvalue()

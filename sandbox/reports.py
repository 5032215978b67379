"""The regulator report in five forms, all rendered from the same ``CryptoCity.regulator_summary()`` dict
so they never disagree:

- ``json``: the summary itself, for programs;
- ``csv``: the summary flattened to ``key,value`` rows (one file; for a quick grep);
- ``csv-zip``: real tables, one CSV per table (card totals, card by day, declines, AML flags, exchange
  volume, KZTE reserves, licences, invariant checks; custody on chain and mining when the city has them),
  zipped with fixed timestamps (``report_tables``);
- ``html``: a page for people, styled like the dashboard (its stylesheet inlined), every amount written
  with ``ledger.amounts.format_amount`` ("510 000.00 KZT"), no ``None``/``True`` (a dash, yes/no), and
  the charts given (``sandbox.charts.gather.report_charts``);
- ``pdf``: that page printed by WeasyPrint.

JSON and the CSVs keep amounts as integers of minor units (``*_minor``) for programs and spreadsheets.
"""
from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader

from ledger.amounts import format_amount
from ledger.assets import DEFAULT_REGISTRY, AssetRegistry

from .report_tables import to_csv_zip

FORMATS = ("json", "csv", "csv-zip", "html", "pdf")
EXTENSIONS = {"csv-zip": "zip"}          # a download's file extension where it is not the format's name
MEDIA = {"json": "application/json", "csv": "text/csv", "csv-zip": "application/zip", "html": "text/html",
         "pdf": "application/pdf"}
_HERE = Path(__file__).resolve().parent
_CSS = _HERE / "web" / "static" / "style.css"


def to_json(summary: dict) -> str:
    return json.dumps(summary, indent=2, sort_keys=True, default=str) + "\n"


def _rows(prefix: str, value) -> list[tuple[str, str]]:  # noqa: ANN001
    """Flatten nested dicts/lists into (dotted key, value) rows."""
    if isinstance(value, dict):
        return [row for key in sorted(value) for row in _rows(f"{prefix}.{key}" if prefix else str(key), value[key])]
    if isinstance(value, list):
        return [row for i, item in enumerate(value) for row in _rows(f"{prefix}[{i}]", item)]
    return [(prefix, "" if value is None else str(value))]


def to_csv(summary: dict) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["key", "value"])
    writer.writerows(_rows("", summary))
    return out.getvalue()


def _text(value) -> str:  # noqa: ANN001
    """How the page writes a value that is not an amount: a dash for nothing, yes/no for a flag."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _when(value) -> str:  # noqa: ANN001
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    return text[:19].replace("T", " ")


_ENV = Environment(loader=FileSystemLoader(_HERE), autoescape=True)   # compiles report.html once per process
_ENV.filters["when"] = _when


def to_html(summary: dict, assets: AssetRegistry = DEFAULT_REGISTRY, charts: list[tuple[str, str]] = ()) -> str:
    """The page to hand out; ``assets`` is the city's registry (its assets' decimals); ``charts``: (heading,
    SVG) pairs drawn by ``sandbox.charts`` (trusted markup: our own renderer's output)."""
    def money(amount_minor, asset: str) -> str:  # noqa: ANN001
        return "—" if amount_minor is None else format_amount(int(amount_minor), asset, assets)
    template = _ENV.get_template("report.html")
    return template.render(s=summary, money=money, text=_text, charts=list(charts),
                           css=_CSS.read_text(encoding="utf-8") if _CSS.exists() else "")


def to_pdf(summary: dict, assets: AssetRegistry = DEFAULT_REGISTRY, charts: list[tuple[str, str]] = ()) -> bytes:
    """The HTML page printed to PDF by WeasyPrint (A4; the charts are vector graphics in it)."""
    from weasyprint import HTML  # imported here: it loads pango, which only this format needs

    return HTML(string=to_html(summary, assets, charts), base_url=str(_HERE)).write_pdf()


def render(summary: dict, fmt: str, assets: AssetRegistry = DEFAULT_REGISTRY,
           charts: list[tuple[str, str]] = ()) -> str | bytes:
    """The summary in ``fmt`` (one of ``FORMATS``): text, or bytes for ``csv-zip`` and ``pdf``. Only ``html``
    and ``pdf`` draw ``charts``."""
    assert fmt in FORMATS, f"format must be one of {FORMATS}"
    if fmt == "html":
        return to_html(summary, assets, charts)
    if fmt == "pdf":
        return to_pdf(summary, assets, charts)
    if fmt == "csv-zip":
        return to_csv_zip(summary)
    return {"json": to_json, "csv": to_csv}[fmt](summary)


def filename(fmt: str, stamp: str = "") -> str:
    """A download's file name: ``regulator-report[-stamp].ext``."""
    return f"regulator-report{'-' + stamp if stamp else ''}.{EXTENSIONS.get(fmt, fmt)}"

"""The regulator report in three forms: JSON (machines), CSV (spreadsheets), HTML (a page to hand out).

All three render the same ``CryptoCity.regulator_summary()`` dict, so they never disagree. JSON and CSV
keep amounts as integers of minor units (``*_minor``) for programs and spreadsheets; the HTML page is
for people and writes every amount with ``ledger.amounts.format_amount`` ("510 000.00 KZT").
"""
from __future__ import annotations

import csv
import io
import json

from jinja2 import Environment

from ledger.amounts import format_amount
from ledger.assets import DEFAULT_REGISTRY, AssetRegistry

FORMATS = ("json", "csv", "html")


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


_KZTE_ASSETS = {"reserve_minor": "KZT", "excess_reserve_minor": "KZT", "supply_minor": "KZTE",
                "liability_minor": "KZTE"}
_HTML = Environment(autoescape=True).from_string("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Regulator report — {{ s.city }}</title>
<style>body{font-family:sans-serif;margin:2em;max-width:60em}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #999;padding:.3em .6em;text-align:left}.bad{color:#b00}.ok{color:#070}</style></head>
<body><h1>Regulator report — {{ s.city }}</h1><p>Sandbox time {{ s.at }}; days are calendar days in {{ s.timezone }}</p>
<h2>Card payments</h2><table>{% for k, v in s.card.items() %}<tr><th>{{ k|replace('_minor', ' amount')|replace('_', ' ') }}</th>
<td>{{ money(v, 'KZT') if k.endswith('_minor') else v }}</td></tr>{% endfor %}</table>
<h2>Card payments by day ({{ s.timezone }})</h2><table><tr><th>day</th><th>authorizations</th><th>approved</th><th>declined</th><th>approved amount</th></tr>
{% for d in s.card_by_day %}<tr><td>{{ d.day }}</td><td>{{ d.authorizations }}</td><td>{{ d.approved }}</td><td>{{ d.declined }}</td><td>{{ money(d.approved_minor, 'KZT') }}</td></tr>
{% else %}<tr><td colspan="5">no card payments</td></tr>{% endfor %}</table>
<h2>Declines by reason</h2><table><tr><th>code</th><th>reason</th><th>count</th><th>total</th><th>for example</th></tr>
{% for d in s.declines %}<tr><td>{{ d.response_code }}</td><td>{{ d.reason }}</td><td>{{ d.count }}</td>
<td>{{ money(d.amount_minor, 'KZT') }}</td><td>{{ d.example }}</td></tr>{% else %}
<tr><td colspan="5">none</td></tr>{% endfor %}</table>
<h2>AML flags</h2><table><tr><th>customer</th><th>merchant</th><th>rule</th><th>reason</th></tr>
{% for f in s.aml_flags.flagged %}<tr><td>{{ f.customer }}</td><td>{{ f.merchant }}</td><td>{{ f.rule }}</td><td>{{ f.reason }}</td></tr>
{% else %}<tr><td colspan="4">none</td></tr>{% endfor %}</table>
<h2>Exchange volume</h2><table><tr><th>instrument</th><th>trades</th><th>quantity</th><th>notional</th></tr>
{% for e in s.exchange %}{% set base, quote = e.symbol.split('/') %}<tr><td>{{ e.symbol }}</td><td>{{ e.trades }}</td>
<td>{{ money(e.qty_minor, base) }}</td><td>{{ money(e.notional_minor, quote) }}</td></tr>
{% else %}<tr><td colspan="4">no trades</td></tr>{% endfor %}</table>
<h2>KZTE reserves vs supply</h2><table>{% for k, v in s.kzte.items() %}<tr><th>{{ k|replace('_minor', '')|replace('_', ' ') }}</th>
<td>{{ money(v, kzte_assets[k]) if k in kzte_assets and v is not none else v }}</td></tr>{% endfor %}</table>
{% if s.custody_onchain %}<h2>Custody on the shared EVM node vs the ledger</h2><table><tr><th>asset</th><th>on chain</th>
<th>ledger</th><th>difference</th></tr>{% for a, c in s.custody_onchain.items() %}<tr><td>{{ a }}</td>
<td>{{ money(c.onchain_minor, a) }}</td><td>{{ money(c.ledger_minor, a) }}</td>
<td class="{{ 'ok' if c.agrees else 'bad' }}">{{ money(c.difference_minor, a) }}</td></tr>{% endfor %}</table>{% endif %}
<h2>Licences</h2><table><tr><th>id</th><th>holder</th><th>regulator</th><th>scope</th><th>status</th></tr>
{% for l in s.licences %}<tr><td>{{ l.id }}</td><td>{{ l.holder }}</td><td>{{ l.regulator }}</td><td>{{ l.scope }}</td>
<td class="{{ 'ok' if l.status == 'active' else 'bad' }}">{{ l.status }}</td></tr>{% endfor %}</table>
{% if s.mining and s.mining.farms %}<h2>Mining</h2><table>
<tr><th>farms (licensed)</th><td>{{ s.mining.farms }} ({{ s.mining.licensed_farms }})</td></tr>
<tr><th>levy paid / unpaid</th><td>{{ money(s.mining.levy_paid_minor, 'KZT') }} / {{ money(s.mining.levy_unpaid_minor, 'KZT') }}</td></tr>
<tr><th>BTC mined / sold on the exchange / seized</th><td>{{ money(s.mining.mined_sat, 'BTC') }} / {{ money(s.mining.sold_sat, 'BTC') }} / {{ money(s.mining.seized_sat, 'BTC') }}</td></tr>
<tr><th>detection cases open / closed</th><td>{{ s.mining.cases_open }} / {{ s.mining.cases_closed }}</td></tr></table>{% endif %}
<h2>Invariants</h2><p class="{{ 'ok' if s.invariants.verified else 'bad' }}">{{ s.invariants.summary }}</p>
</body></html>
""")


def to_html(summary: dict, assets: AssetRegistry = DEFAULT_REGISTRY) -> str:
    """The page to hand out; ``assets`` is the city's registry (its assets' decimals)."""
    return _HTML.render(s=summary, kzte_assets=_KZTE_ASSETS,
                        money=lambda amount_minor, asset: format_amount(amount_minor, asset, assets))


def render(summary: dict, fmt: str, assets: AssetRegistry = DEFAULT_REGISTRY) -> str:
    assert fmt in FORMATS, f"format must be one of {FORMATS}"
    if fmt == "html":
        return to_html(summary, assets)
    return {"json": to_json, "csv": to_csv}[fmt](summary)

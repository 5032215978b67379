"""An HTML report of scenario runs: each scenario, each step with what it answered and the money it moved
(per actor and asset), and each expectation under its step, passed or failed with expected and actual.
One self-contained page (no scripts, no outside files), for a CI artefact or a workshop's screen."""
from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, select_autoescape

from ledger import format_amount

from .runner import ScenarioResult

_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Scenario report — {{ passed }} passed, {{ failed }} failed</title>
<style>
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:70rem;padding:0 1rem;color:#1d2430}
h1{font-size:1.5rem} h2{font-size:1.2rem;margin-top:2.2rem} .pass{color:#17733a} .fail{color:#b3261e}
table{border-collapse:collapse;width:100%;margin:.6rem 0} th,td{border-bottom:1px solid #dde2ea;padding:.35rem .5rem;
text-align:left;vertical-align:top} th{background:#f4f6f9} td.num{text-align:right;font-variant-numeric:tabular-nums}
.muted{color:#5b6473} .badge{display:inline-block;padding:0 .45rem;border-radius:.3rem;font-weight:600}
.badge.pass{background:#e3f4e8} .badge.fail{background:#fbe4e2}
</style></head><body>
<h1>Scenario report</h1>
<p><span class="badge pass">{{ passed }} passed</span> <span class="badge fail">{{ failed }} failed</span>
<span class="muted">— {{ expectations }} expectations in {{ results|length }} scenario(s)</span></p>
{% for r in results %}
<h2 id="s{{ loop.index }}"><span class="{{ 'pass' if r.passed else 'fail' }}">{{ 'PASS' if r.passed else 'FAIL' }}</span>
 {{ r.scenario.name }}</h2>
<p class="muted">{{ r.scenario.source }} · seed {{ r.scenario.seed }} · {{ '%.2f'|format(r.seconds) }} s ·
{{ r.results|length }} expectations, {{ r.failures|length }} failed</p>
<table><thead><tr><th>step</th><th>answer</th><th>money moved (available balances)</th><th>expectations</th></tr></thead>
<tbody>
{% for row in rows(r) %}<tr>
<td>{{ row.label }}</td><td>{{ row.answer }}</td>
<td>{% for line in row.moved %}<div class="num">{{ line }}</div>{% else %}<span class="muted">—</span>{% endfor %}</td>
<td>{% for c in row.checks %}<div class="{{ 'pass' if c.passed else 'fail' }}">{{ 'PASS' if c.passed else 'FAIL' }}
 {{ c.expectation }}{% if not c.passed %} — expected {{ c.expected }}, got {{ c.actual }}{% if c.context %}
 [{{ c.context }}]{% endif %}{% endif %}</div>{% endfor %}</td>
</tr>{% endfor %}
</tbody></table>
{% endfor %}
</body></html>
"""


def _rows(result: ScenarioResult) -> list[dict]:
    """One row per step that ran (with its money and expectations), then any expectation of no step (set-up)."""
    by_step: dict[str, list] = {}
    for check in result.results:
        by_step.setdefault(check.step, []).append(check)
    rows = []
    for record in result.steps:
        moved = [f"{actor} {'+' if d > 0 else '−'}{format_amount(abs(d), asset.split('@')[0])}"
                 f"{' at the exchange' if '@' in asset else ''}"
                 for actor, deltas in record.moved.items() for asset, d in deltas.items()]
        rows.append({"label": record.label, "answer": record.answer, "moved": moved,
                     "checks": by_step.pop(record.label, [])})
    for label, checks in by_step.items():
        rows.append({"label": label, "answer": "", "moved": [], "checks": checks})
    return rows


def html_report(results: list[ScenarioResult]) -> str:
    """The report page for ``results`` (run with ``track_money=True`` to show the money each step moved)."""
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    failed = sum(not r.passed for r in results)
    return env.from_string(_TEMPLATE).render(results=results, rows=_rows, passed=len(results) - failed,
                                             failed=failed, expectations=sum(len(r.results) for r in results))


def write_html(results: list[ScenarioResult], path: str | Path) -> None:
    Path(path).write_text(html_report(results), encoding="utf-8")

"""``cryptocity run --html``: one page with each step, what it answered, the money it moved and each of its
expectations — failures with expected, actual and the decline reason; nothing in it can inject markup."""
from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from sandbox.cli import main

ROOT = Path(__file__).resolve().parents[2]

SCENARIO = """
name: "Coffee <script>alert(1)</script>"
config: crypto-city
actors:
  aigerim: {kyc: full, deposits: ["0.01 BTC"]}
  dias: {kyc: full, deposits: ["100.00 KZT"]}
steps:
  - name: coffee
    pay: {actor: aigerim, merchant: alatau-coffee, amount: "1 500.00 KZT", ref: coffee}
    expect: {status: approved}
  - pay: {actor: dias, merchant: alatau-coffee, amount: "1 500.00 KZT", ref: short}
    expect: {status: approved}
  - expect: {verify: true}
"""


def test_the_html_report_shows_steps_money_and_expectations(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO, encoding="utf-8")
    report = tmp_path / "report.html"
    result = CliRunner().invoke(main, ["run", str(path), str(ROOT / "scenarios" / "01-coffee-btc-in-zone.yaml"),
                                       "--html", str(report)])
    assert result.exit_code == 1, result.output          # the second purchase is declined: a failed expectation
    page = report.read_text(encoding="utf-8")
    assert "1 passed</span> <span class=\"badge fail\">1 failed" in page
    assert "step 1 (pay: coffee, line 8)" in page
    assert "aigerim −0.000" in page and " BTC" in page     # the coffee sold some of her BTC …
    assert "aigerim +" in page and " KZT" in page          # … and what the sale raised beyond it stayed as tenge
    assert "FAIL\n status — expected approved, got declined\n [declined 51:" in page
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page

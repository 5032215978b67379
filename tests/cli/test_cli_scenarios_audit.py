"""End-to-end through the console script: scenario runs and audit tamper detection."""
from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from test_cli_foundation import run

REPO = Path(__file__).resolve().parents[2]


def test_run_passes_a_shipped_scenario_and_writes_junit(tmp_path):
    junit = tmp_path / "out.xml"
    result = run(["run", str(REPO / "scenarios" / "01-coffee-btc-in-zone.yaml"), "--junit", str(junit)], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed, 0 failed" in result.stdout
    assert "<testsuite" in junit.read_text()


def test_a_wrong_expectation_fails_with_expected_actual_and_step(tmp_path):
    text = (REPO / "scenarios" / "01-coffee-btc-in-zone.yaml").read_text()
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(text.replace('response_code: "00"', 'response_code: "51"', 1))
    assert wrong.read_text() != text
    result = run(["run", str(wrong)], tmp_path)
    assert result.returncode == 1
    assert "FAIL" in result.stdout and "expected 51" in result.stdout and "line" in result.stdout


def test_an_invalid_scenario_exits_2_naming_the_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: broken\nconfig: crypto-city\nactors: {}\nsteps:\n  - pay: {actor: a, tip: 5}\n")
    result = run(["run", str(bad)], tmp_path)
    assert result.returncode == 2
    assert "bad.yaml:5" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_audit_verify_detects_one_edited_entry(tmp_path):
    db = tmp_path / "city.db"
    from sandbox.city import CryptoCity
    city = CryptoCity.from_config("crypto-city", db=f"sqlite:///{db}", seed=3)
    city.onboard(actor="aigerim", kyc_tier="full", resident=True, aifc_investor=False, deposits={"KZT": 500_000})
    city.onboard(actor="dana", kyc_tier="basic", resident=True, aifc_investor=False, deposits={})
    city.verify()
    assert run(["audit", "verify", "--db", str(db)], tmp_path).returncode == 0
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE sandbox_audit_log SET actor = 'mallory' WHERE seq = 2")
    result = run(["audit", "verify", "--db", str(db)], tmp_path)
    assert result.returncode == 1
    assert "TAMPERED" in result.stdout and "entry 2" in result.stdout


def test_regulator_report_in_json_csv_and_html(tmp_path):
    import json
    db = tmp_path / "city.db"
    from sandbox.city import CryptoCity
    city = CryptoCity.from_config("crypto-city", db=f"sqlite:///{db}", seed=3)
    city.onboard(actor="aigerim", kyc_tier="full", resident=True, aifc_investor=False, deposits={"BTC": 1_000_000})
    assert city.pay(actor="aigerim", merchant="alatau-coffee", amount_minor=150_000, ref="c").status == "approved"
    assert city.pay(actor="aigerim", merchant="shady-casino", amount_minor=500_000, ref="x").status == "declined"
    city.verify()
    as_json = run(["report", "--db", str(db), "--seed", "3"], tmp_path)
    assert as_json.returncode == 0, as_json.stderr
    summary = json.loads(as_json.stdout)
    assert summary["card"]["approved"] == 1 and summary["invariants"]["verified"] is True
    as_csv = run(["report", "--db", str(db), "--seed", "3", "--format", "csv"], tmp_path)
    assert "card.approved,1" in as_csv.stdout and "card.approved_minor,150000" in as_csv.stdout  # for programs
    assert "declines[0].amount_minor,500000" in as_csv.stdout and "declines[0].count,1" in as_csv.stdout
    page = tmp_path / "report.html"
    as_html = run(["report", "--db", str(db), "--seed", "3", "--format", "html", "--out", str(page)], tmp_path)
    assert as_html.returncode == 0
    assert "<h2>Declines by reason</h2>" in page.read_text() and "AFSA-TF-001" in page.read_text()
    html = page.read_text()  # for people: every amount through the one formatter
    assert "<td>approved amount</td>\n<td class=\"num\">1 500.00 KZT</td>" in html
    assert '<td class="num">5 000.00 KZT</td>' in html and 'id="chart-declines"' in html
    words = re.sub(r"<svg.*?</svg>", "", html, flags=re.S)  # the charts' coordinates are not amounts
    assert "150000" not in words and "500000" not in words and "None" not in words and "True" not in words

"""``cryptocity compare``: one scenario under several regimes, side by side — the coffee of scenario 01 is
approved in Crypto City and declined 57 under AIFC classic, where crypto may not pay."""
from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from sandbox.cli import main
from sandbox.config import list_presets, load_config, preset_path

ROOT = Path(__file__).resolve().parents[2]
COFFEE = str(ROOT / "scenarios" / "01-coffee-btc-in-zone.yaml")


def _cells(output: str, row_start: str) -> list[str]:
    """The first line of each cell of the table row starting with ``row_start``."""
    line = next(line for line in output.splitlines() if line.startswith("│ " + row_start))
    return [cell.strip() for cell in line.split("│")[1:-1]]


def _column(output: str, row_start: str, column: int) -> str:
    """The whole text of one cell of that row (its lines joined)."""
    lines = output.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("│ " + row_start))
    cell = []
    for line in lines[first:]:
        if not line.startswith("│"):
            break
        cell.append(line.split("│")[1:-1][column].strip())
    return " ".join(part for part in cell if part)


def test_compare_shows_the_57_decline_under_aifc_classic_and_the_approval_in_crypto_city():
    result = CliRunner().invoke(main, ["compare", "crypto-city", "aifc-classic", "--scenario", COFFEE])
    assert result.exit_code == 0, result.output
    header = result.output.splitlines()
    assert any("crypto-city" in line and "aifc-classic" in line for line in header)
    step, crypto_city, aifc = _cells(result.output, "1 pay coffee")
    assert step.startswith("1 pay coffee 1 500.00 KZT")
    assert crypto_city == "approved 00" and aifc == "declined 57"
    assert "digital assets may not be used as a means of payment" in _column(result.output, "1 pay", 2)
    assert "fees 18.16 KZT (conversion 15.00 KZT, exchange 3.16 KZT)" in _column(result.output, "1 pay", 1)
    # the capture of a declined purchase is refused under AIFC classic; the comparison goes on
    _, captured, refused = _cells(result.output, "2 capture")
    assert captured == "ok" and refused == "error authorization_not_found"
    assert _cells(result.output, "totals")[1:] == ["1 approved, 0 declined, 0 errors", "0 approved, 1 declined, 1 errors"]
    assert "invariants verified" in _column(result.output, "totals", 1) and "invariants verified" in _column(
        result.output, "totals", 2)


def test_compare_as_json_for_machines_with_the_pakistan_preset():
    args = ["compare", "pakistan-pcc-sandbox", "aifc-classic", "--scenario", COFFEE, "--format", "json"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    pakistan, aifc = report["regimes"]
    assert (pakistan["preset"], aifc["preset"]) == ("pakistan-pcc-sandbox", "aifc-classic")
    pay = pakistan["steps"][0]
    assert (pay["outcome"], pay["response_code"], pay["fees_minor"]) == ("approved", "00",
                                                                        {"conversion": 15_00, "exchange": 3_16})
    assert (aifc["steps"][0]["outcome"], aifc["steps"][0]["response_code"]) == ("declined", "57")
    assert aifc["totals"] == {"approved": 0, "declined": 1, "errors": 1, "expectations_failed": 4,
                              "fees_minor": {"conversion": 0, "exchange": 0, "merchant": 0}, "fees_total_minor": 0,
                              "pit_minor": 0}
    assert pakistan["totals"]["fees_total_minor"] == 40_66 and pakistan["totals"]["expectations_failed"] == 0
    assert pakistan["invariants"] == aifc["invariants"] == "verified"     # no money appeared or vanished


def test_compare_refuses_an_unknown_preset_before_running_anything():
    result = CliRunner().invoke(main, ["compare", "crypto-city", "atlantis", "--scenario", COFFEE])
    assert result.exit_code == 2
    assert "no preset or file named 'atlantis'" in result.output
    one = CliRunner().invoke(main, ["compare", "crypto-city", "--scenario", COFFEE])
    assert one.exit_code == 2 and "at least two presets" in one.output


def test_the_pakistan_preset_marks_what_is_not_a_documented_fact():
    assert list_presets() == ["aifc-classic", "crypto-city", "pakistan-pcc-sandbox"]
    cfg = load_config("pakistan-pcc-sandbox")
    assert cfg.sandbox.timezone == "Asia/Karachi" and cfg.crypto_payments_allowed
    text = preset_path("pakistan-pcc-sandbox").read_text(encoding="utf-8")
    assert "Pakistan Crypto Council" in text and text.count("# assumption") >= 30
    for section in ("card:", "tax:", "kyc:", "crypto_payments_allowed:"):
        before = text[:text.index("\n" + section)]
        assert "assumption" in before.rsplit("\n\n", 1)[-1] or "assumption" in text.split("\n" + section)[1][:400]


def test_a_scenario_whose_additions_do_not_fit_a_preset_is_not_run_there_and_the_others_are(tmp_path):
    scenario = tmp_path / "florist.yaml"
    scenario.write_text("""
name: Flowers at a shop the file adds, licensed by the Alatau zone
config: crypto-city
merchants_add:
  - id: zone-florist
    name: Zone Florist
    mcc: "5992"
    licences:
      - {id: ZONE-M-099, regulator: alatau-zone, scope: zone_merchant, valid_from: 2025-05-29T00:00:00Z, valid_until: 2027-05-29T00:00:00Z}
actors:
  dana: {kyc: full, deposits: ["5 000.00 KZT"]}
steps:
  - pay: {actor: dana, merchant: zone-florist, amount: "2 000.00 KZT", ref: roses}
""", encoding="utf-8")
    args = ["compare", "aifc-classic", "pakistan-pcc-sandbox", "--scenario", str(scenario), "--format", "json"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    aifc, pakistan = json.loads(result.output)["regimes"]
    assert aifc["refused"] is None and aifc["steps"][0]["outcome"] == "approved"   # tenge pays under any regime
    assert aifc["invariants"] == "verified"   # compare verifies each regime's ledger after its run
    assert pakistan["steps"] == [] and pakistan["refused"] == (
        "merchants[5].licences[0].regulator: unknown regulator 'alatau-zone'; declared regulators: pcc-sandbox, "
        "pk-central-bank, pcc-cohort")


def test_compare_shows_levy_revenue_btc_mined_and_sold_and_flags_under_each_regime():
    farm = str(ROOT / "scenarios" / "19-mining-licensed-farm-levy.yaml")
    args = ["compare", "crypto-city", "pakistan-pcc-sandbox", "--scenario", farm, "--format", "json"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    regimes = json.loads(result.output)["regimes"]
    assert [r["invariants"] for r in regimes] == ["verified", "verified"]
    kazakh, pakistan = (r["mining"] for r in regimes)
    # the same farm mines the same coins; the Kazakh levy of 2 KZT/kWh is collected, Pakistan documents none
    assert kazakh["mined_sat"] == pakistan["mined_sat"] > 0 and kazakh["sold_sat"] == pakistan["sold_sat"] > 0
    assert kazakh["levy_revenue_minor"] > 0 and pakistan["levy_revenue_minor"] == 0
    table = CliRunner().invoke(main, args[:-2])
    assert "levy collected" in table.output and "BTC mined" in table.output and "flags" in table.output


def test_the_pakistan_surplus_power_caps_the_farms_load():
    from sandbox.config.loader import load_config
    mining = load_config("pakistan-pcc-sandbox").mining
    assert mining.surplus_power_mw == 2000 and load_config("crypto-city").mining.surplus_power_mw is None

"""The charts' numbers equal the stored facts, and the SVG is deterministic and self-contained.

One seeded city per module: card purchases funded by BTC over four sandbox hours (captured), two declines
(codes 59 and 61), a KZTE mint and a redemption.
"""
from __future__ import annotations

import re
from collections import Counter

import pytest

from card.response_codes import is_approval
from ledger import format_amount
from sandbox.charts import gather, history, series, svg
from sandbox.charts.money_path import money_path_svg
from sandbox.city import CryptoCity

PURCHASES_MINOR = (1_500_00, 5_500_00, 9_500_00, 13_500_00)


def seed_history(city) -> None:
    """A little of everything the charts draw; ends with the ledger verified."""
    city.onboard(actor="aigerim", kyc_tier="full", deposits={"BTC": 2_000_000, "KZT": 1_000_00})
    city.onboard(actor="bob", kyc_tier="basic", deposits={"BTC": 1_000_000})
    for i, amount_minor in enumerate(PURCHASES_MINOR):
        assert city.pay(actor="aigerim", merchant="alatau-coffee", amount_minor=amount_minor, ref=f"p{i}").status == "approved"
        city.capture(ref=f"p{i}")
        city.advance("1h")
    assert city.pay(actor="aigerim", merchant="shady-casino", amount_minor=5_000_00, ref="x").response_code == "59"
    assert city.pay(actor="bob", merchant="alatau-coffee", amount_minor=900_000_00, ref="y").response_code == "61"
    city.deposit(actor="aigerim", asset="KZT", amount_minor=20_000_00)
    city.mint(actor="aigerim", amount_minor=10_000_00)
    city.advance("1h")
    city.redeem(actor="aigerim", amount_minor=3_000_00)
    city.verify()


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    city = CryptoCity.from_config("crypto-city", db=f"sqlite:///{tmp_path_factory.mktemp('charts') / 'c.db'}",
                                  seed=7)
    seed_history(city)
    yield city
    city.verify()
    city.close()


def test_the_issuer_account_codes_match_the_stablecoin_package():
    from stablecoin.issuer import ISSUANCE_CODE, RESERVE_CODE
    assert (history.RESERVE_CODE, history.ISSUANCE_CODE) == (RESERVE_CODE, ISSUANCE_CODE)


def test_depth_steps_add_up_to_the_book(city):
    book = city.exchange.depth("BTC/KZT", gather.DEPTH_LEVELS)
    for side in ("bids", "asks"):
        steps = series.depth_steps(book[side])
        assert [p for p, _ in steps] == [p for p, _ in book[side]]
        assert steps[-1][1] == sum(q for _, q in book[side])
        assert all(b[1] - a[1] == q for a, b, (_, q) in zip(steps, steps[1:], book[side][1:]))
    drawn = gather.market_charts(city, "BTC/KZT")["depth"]
    # each level is two points (the step up and the step across) of its side's series
    assert drawn.count('<circle') == 2 * (len(book["bids"]) + len(book["asks"]))
    best = format_amount(steps[-1][1], "BTC")
    assert best in drawn


def test_declines_by_code_count_the_stored_declines(city):
    rows = history.card_rows(city)
    stored = Counter(r.response_code for r in rows if not is_approval(r.response_code))
    assert dict(series.declines_by_code(rows)) == dict(stored) == {"59": 1, "61": 1}
    summary = city.regulator_summary()
    by_summary = Counter()
    for d in summary["declines"]:
        by_summary[d["response_code"]] += d["count"]
    assert by_summary == stored
    drawn = gather.regulator_charts(city, summary)["declines"]
    assert drawn.count('class="rect reactive tooltip-trigger"') == 2 and "59 · merchant shady-casino" in drawn


def test_card_volume_per_hour_sums_to_the_approved_amount(city):
    hours = series.hourly_card_volume(history.card_rows(city), city.cfg.sandbox.zone)
    assert sum(h["approved_minor"] for h in hours) == sum(PURCHASES_MINOR)
    assert [h["approved_minor"] for h in hours[:4]] == list(PURCHASES_MINOR)  # one purchase per sandbox hour
    assert sum(h["declined"] for h in hours) == 2
    assert all((b["hour"] - a["hour"]).total_seconds() == 3600 for a, b in zip(hours, hours[1:]))


def test_reserve_and_supply_over_time_end_at_the_attested_figures(city):
    points = history.kzte_history(city)
    assert [(r, s) for _, r, s in points] == [(10_000_00, 10_000_00), (7_000_00, 7_000_00)]
    kzte = city.regulator_summary()["kzte"]
    assert (points[-1][1], points[-1][2]) == (kzte["reserve_minor"], kzte["supply_minor"])
    drawn = gather.regulator_charts(city, city.regulator_summary())["kzte"]
    assert format_amount(7_000_00, "KZTE") in drawn and format_amount(10_000_00, "KZT") in drawn


def test_every_chart_is_deterministic_and_self_contained(city):
    summary = city.regulator_summary()
    first, again = gather.report_charts(city, summary), gather.report_charts(city, summary)
    assert first == again and len(first) == 5
    for heading, drawn in first:
        assert drawn.startswith("<svg") and "<script" not in drawn and "<!--" not in drawn, heading
        assert not re.search(r'(?:href|src)="(?!#)', drawn), heading  # nothing fetched
    assert len({re.search(r'id="([^"]+)"', d).group(1) for _, d in first}) == 5  # one id per chart: CSS scoped


def test_a_fresh_market_draws_an_empty_chart_not_an_error():
    empty = svg.candles_svg([], price_label=str, volume_label=str, time_label=str, title="t", base="BTC")
    assert empty.count("No trades in this window yet") == 2
    assert "No data yet" in svg.depth_svg([], [], quote_label=str, base_label=str, title="d")


def test_the_money_path_follows_the_purchase(city):
    money = lambda amount_minor, asset: format_amount(amount_minor, asset)  # noqa: E731
    leg = {"asset": "BTC", "sold_qty_minor": 2_836, "proceeds_minor": 1_503_00, "fee_minor": 1_50,
           "avg_price_minor": 53_000_000_00, "slippage_bps": 0}
    approved = {"response_code": "00", "amount_minor": 1_500_00, "sold": [leg], "conversion_fee_minor": 15_00}
    drawn = money_path_svg(approved, {"status": "captured", "captured_minor": 1_500_00, "merchant_fee_minor": 22_50},
                           money=money)
    texts = re.findall(r">([^<>]+)</text>", drawn)
    for expected in ("Customer's crypto", "0.00002836 BTC", "AIFC exchange", "exchange fee 1.50 KZT",
                     "+1 503.00 KZT", "card fee 15.00 KZT", "merchant fee 22.50 KZT", "paid 1 477.50 KZT"):
        assert expected in texts, expected
    assert drawn == money_path_svg(approved, {"status": "captured", "captured_minor": 1_500_00,
                                              "merchant_fee_minor": 22_50}, money=money)
    declined = money_path_svg({"response_code": "59", "reason": "merchant on the blocklist", "amount_minor": 5},
                              None, money=money)
    assert "no money moved" in declined and "Merchant" not in declined

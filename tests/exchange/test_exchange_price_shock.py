"""A price shock (a workshop's price crash) bends the model price down in a straight line and holds it."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from exchange.price_model import PriceModel, PriceShock

T0 = datetime(2025, 6, 1, 9, 0, tzinfo=timezone.utc)


def test_a_shock_falls_in_a_straight_line_over_its_minutes_then_holds():
    shock = PriceShock("BTC", T0, minutes=30, percent=30)
    assert shock.factor(T0 - timedelta(minutes=5)) == 1 and shock.factor(T0) == 1
    assert shock.factor(T0 + timedelta(minutes=15)) == Decimal("0.85")
    assert shock.factor(T0 + timedelta(minutes=30)) == Decimal("0.7") == shock.factor(T0 + timedelta(days=3))


def test_the_model_price_carries_the_shock_of_its_asset_only_and_stays_deterministic():
    plain, shocked = PriceModel(seed=3, start=T0), PriceModel(seed=3, start=T0)
    shocked.shocks = (PriceShock("BTC", T0, minutes=10, percent=50),)
    for model in (plain, shocked):
        model.advance(T0 + timedelta(minutes=10))
    assert shocked.price_minor("BTC") == plain.price_minor("BTC") // 2
    assert shocked.price_minor("ETH") == plain.price_minor("ETH")

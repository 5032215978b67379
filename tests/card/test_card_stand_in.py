"""The decision gateway's stand-in tenge_only (Marqeta's Commando Mode) inside the card's authorization."""
from __future__ import annotations

from card import response_codes as rc

from card_helpers import setup_city


class _NoCryptoSales:
    """Rules that refuse any purchase needing a crypto sale (as the city's do while the exchange's licence is
    suspended)."""

    def check_authorization(self, uow, ctx):
        from card import RulesDecision
        return RulesDecision("57", "no crypto sale now") if ctx.shortfall_minor > 0 else RulesDecision()


def test_card_tenge_only_stand_in_pays_from_tenge_and_skips_the_sales_conditions(ledger):
    """The stand-in tenge_only switched the funding source: the rules see no shortfall (nothing will be
    sold), even on a card that sells crypto before it spends tenge; over the tenge it declines 51."""
    from card import FundingSettings
    from card.decisions import Decision
    cards, card = setup_city(ledger, tenge_minor=10_000_00, rules=_NoCryptoSales())
    cards.update_settings(card.id, funding=FundingSettings(order=("USDT",), spend_tenge_first=False))
    stand_in = Decision(rc.WEBHOOK_ERROR, True, tenge_only=True, detail="stand-in tenge only: HTTP 503")

    def pay(key, amount, decision):
        with ledger.unit_of_work() as uow:
            from card.authorization import authorize
            result = authorize(cards, uow, card_id=card.id, amount_minor=amount, merchant_id="cafe",
                               idempotency_key=key, decision=decision)
            uow.commit()
        return result
    assert pay("plain", 1_000_00, None).response_code == "57"       # the card would sell USDT first
    paid = pay("stand-in", 1_000_00, stand_in)
    assert paid.approved and paid.sold == () and paid.shortfall_minor == 0
    over = pay("over", 9_000_01, stand_in)
    assert over.response_code == rc.INSUFFICIENT_FUNDS and "spends only the tenge" in over.reason
    ledger.verify()

"""Wallet & card: one customer's balances per asset, their card (status, controls, funding order) and the
card statement (every purchase with its status history and the crypto sold to fund it).

A customer key sees only its own wallet; operator and regulator pick any customer.
"""
from __future__ import annotations

from flask import render_template, request

from ..auth import access
from . import city_data
from .core import bp, city_or_none, is_staff, needs_city, principal, refused

ASSET_ORDER = ("KZT", "KZTE", "USDT", "BTC", "ETH")


def _sort_key(account) -> tuple:
    asset = account.asset
    return (account.purpose != "bank", ASSET_ORDER.index(asset) if asset in ASSET_ORDER else len(ASSET_ORDER), asset)


@bp.route("/wallet")
@access("customer", shared=True)  # the view pins a customer key to its own wallet
def wallet():
    city = city_or_none()
    if city is None:
        return needs_city("Wallet & card", "a customer's balances, card, controls, funding order and statement")
    who = principal()
    asked = (request.args.get("customer") or "").strip() or None
    if who.role == "customer":
        if asked is not None and asked != who.subject:
            return refused("A customer key sees only its own wallet.", 404, "Not visible to this key")
        asked = who.subject
    elif not is_staff():
        return refused("Wallets are visible to their customer, the operator and the regulator.", 403)
    people = city_data.customers(city) if is_staff() else city_data.customers(city, only=who.subject)
    if asked is None and people:
        asked = people[0].actor
    card = city_data.customer_card(city, asked) if asked else None
    if asked is not None and card is None:
        return render_template("wallet.html", title="Wallet & card", customers=people, customer=asked,
                               missing=True), 404
    accounts = sorted(city_data.customer_accounts(city, asked), key=_sort_key) if asked else []
    statement = city.cards.customer_statement(asked) if asked else []
    shops = {m.id: m for m in city_data.merchants(city)}
    return render_template("wallet.html", title="Wallet & card", customers=people, customer=asked, card=card,
                           accounts=accounts, statement=list(reversed(statement)), merchants=shops,
                           now=city.now(), timezone=city.cfg.sandbox.timezone, missing=False)

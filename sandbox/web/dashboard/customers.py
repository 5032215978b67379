"""Onboarding and test money from the dashboard (operator only), so a newcomer can go from an empty
city to a purchase with clicks alone: onboard a customer with a KYC tier and starting deposits, or top
up an existing one from the sandbox faucet. Amounts are typed in major units and read exactly
(``ledger.amounts.to_minor``); KZTE is left out on purpose (its token takes seconds to start).
"""
from __future__ import annotations

import re

from flask import flash, redirect, request, url_for

from ledger.amounts import to_minor
from ledger.errors import DomainError

from ..auth import access
from ..problems import is_domain_error
from ..services import services
from .core import bp, city_or_none, money, needs_city

DEPOSIT_ASSETS = ("KZT", "USDT", "BTC", "ETH")
ACTOR = re.compile(r"^[a-z][a-z0-9._-]{1,39}$")
MAX_DEPOSIT_MINOR = 10**15


def _amounts(form, prefix: str) -> dict[str, int]:
    out = {}
    for asset in DEPOSIT_ASSETS:
        text = (form.get(f"{prefix}{asset}") or "").strip()
        if not text:
            continue
        try:
            amount = to_minor(asset, text, services().ledger.assets)
        except DomainError as error:
            raise ValueError(f"{asset}: {error}") from None
        if amount > MAX_DEPOSIT_MINOR:
            raise ValueError(f"{asset}: {text} is more than the faucet gives")
        if amount:
            out[asset] = amount
    return out


def _back():
    target = request.form.get("back", "")
    return redirect(target if target.startswith("/") and not target.startswith("//")
                    else url_for("dashboard.pos"), code=303)


@bp.route("/customers", methods=["POST"])
@access()  # operator only: it creates people and money
def onboard():
    city = city_or_none()
    if city is None:
        return needs_city("Onboard a customer", "a form to onboard customers with starting deposits")
    actor = (request.form.get("actor") or "").strip().lower()
    tier = request.form.get("kyc_tier") or "full"
    if not ACTOR.match(actor):
        flash("A customer name is 2-40 lower-case letters, digits, '.', '_' or '-', starting with a letter "
              "(e.g. aigerim).", "error")
        return _back()
    try:
        deposits = _amounts(request.form, "deposit_")
        out = city.onboard(actor=actor, kyc_tier=tier, deposits=deposits)
    except ValueError as error:
        flash(f"Not onboarded: {error}", "error")
        return _back()
    except Exception as error:  # noqa: BLE001 - typed refusals become a message; others propagate
        if not is_domain_error(error):
            raise
        flash(f"Not onboarded: {error}", "error")
        return _back()
    got = ", ".join(money(v, k) for k, v in deposits.items()) or "no deposits"
    flash(f"Onboarded {actor} (KYC {tier}) with card {out['pan'][:6]}******{out['pan'][-4:]} and {got}.", "ok")
    return _back()


@bp.route("/customers/faucet", methods=["POST"])
@access()  # operator only
def faucet():
    city = city_or_none()
    if city is None:
        return needs_city("Faucet", "test money for customers")
    actor = (request.form.get("actor") or "").strip()
    try:
        amounts = _amounts(request.form, "faucet_")
        if not amounts:
            raise ValueError("enter an amount of at least one asset")
        city.balances(actor)  # an unknown customer is refused before any money moves
        for asset, amount in amounts.items():
            city.faucet(actor=actor, asset=asset, amount_minor=amount)
    except ValueError as error:
        flash(f"No top-up: {error}", "error")
        return _back()
    except Exception as error:  # noqa: BLE001
        if not is_domain_error(error):
            raise
        flash(f"No top-up: {error}", "error")
        return _back()
    flash(f"Topped up {actor}: " + ", ".join(money(v, k) for k, v in amounts.items()) + ".", "ok")
    return _back()

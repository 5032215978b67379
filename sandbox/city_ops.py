"""Facade operations the web API needs and ``CryptoCity`` does not offer (yet).

Each function takes the city first, checks what it can before writing, does its work in ONE
``city.ledger.transaction`` together with an ``audit.append`` entry (so the change and its record
commit or roll back together), and refuses with a typed error carrying ``.code`` (``CityError``
or the domain's own), changing nothing.

    from sandbox import city_ops
    city_ops.freeze_card(city, card_id=1, by="aigerim")
    city_ops.place_order(city, actor="aigerim", instrument="BTC/KZT", side="buy", type="limit",
                         qty_minor=10_000, price=52_000_000_00)
"""
from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from sqlalchemy import select

from ledger import Posting, format_amount

from . import audit
from .city_parts import CityError

ACTOR_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,63}$"
_ACTOR_RE = re.compile(ACTOR_PATTERN)
CLEARING_VERBS = ("capture", "reverse", "refund")


def masked_pan(pan: str | None) -> str | None:
    """First six and last four digits, the rest hidden (what a receipt shows)."""
    if not pan:
        return None
    return pan[:6] + "*" * (len(pan) - 10) + pan[-4:]


def check_actor_name(actor: str) -> None:
    if not isinstance(actor, str) or not _ACTOR_RE.match(actor):
        raise CityError("invalid_actor", "an actor name is 1-64 letters, digits or _ . @ + - and starts with a "
                        f"letter or digit, got {actor!r}")


def _card(city, card_id: int):
    from card import issuing
    with city.ledger.unit_of_work(read_only=True) as uow:
        return issuing.get_card(uow, card_id)


# ------------------------------------------------------------------------------------------ cards
def _card_status(city, card_id: int, action: str, by: str) -> dict:
    from card import issuing

    def work(uow):
        card = issuing.change_status(uow, card_id, action, note=f"{action} by {by}")
        audit.append(uow, by, f"card.{action}", str(card_id), {"cardholder": card.cardholder_id,
                                                             "status": card.status})
        return card
    return city.ledger.transaction(work)


def freeze_card(city, *, card_id: int, by: str) -> Any:
    """Freeze an active card: every authorization declines 62 until it is unfrozen."""
    return _card_status(city, card_id, "freeze", by)


def unfreeze_card(city, *, card_id: int, by: str) -> Any:
    return _card_status(city, card_id, "unfreeze", by)


def _programme_ceiling(city) -> dict[str, int | None]:
    c = city.cfg.card
    return {"per_transaction_limit_minor": c.per_transaction_limit, "daily_limit_minor": c.daily_limit,
            "monthly_limit_minor": None, "daily_count_limit": c.daily_count_limit}


def update_controls(city, *, card_id: int, by: str, controls: dict) -> Any:
    """Replace the card's spend controls. A cardholder may tighten the programme's limits, never loosen
    them: limits at most the programme's, and the programme's blocked categories stay blocked."""
    from card import SpendControls
    ceiling = _programme_ceiling(city)
    for name, cap in ceiling.items():
        value = controls.get(name)
        if cap is not None and (value is None or value > cap):
            shown = (format_amount(cap, "KZT", city.ledger.assets) if name.endswith("_minor") else str(cap))
            raise CityError("control_above_programme_limit",
                            f"{name} may be at most the card programme's {shown} (got {value!r}); a card's own "
                            "controls can only tighten the programme's")
    blocked = frozenset(controls.get("blocked_mccs") or ()) | frozenset(city.cfg.card.blocked_mccs)
    allowed = controls.get("allowed_mccs")
    new = SpendControls(per_transaction_limit_minor=controls.get("per_transaction_limit_minor"),
                        daily_limit_minor=controls.get("daily_limit_minor"),
                        monthly_limit_minor=controls.get("monthly_limit_minor"),
                        daily_count_limit=controls.get("daily_count_limit"),
                        allowed_mccs=None if allowed is None else frozenset(allowed),
                        blocked_mccs=blocked, zone_only=bool(controls.get("zone_only", False)))
    return _store_settings(city, card_id, by, "controls", new)


def update_funding(city, *, card_id: int, by: str, order: list[str], mode: str | None = None,
                   slippage_cap_bps: int | None = None, spend_tenge_first: bool | None = None) -> Any:
    """Change which crypto pays for purchases and how: the order of assets (configured crypto assets
    only), ``combine`` or ``fallback``, a slippage cap up to the programme's. The conversion fee is the
    programme's and cannot be changed by the cardholder."""
    current = _card(city, card_id).funding
    sellable = [a.code for a in city.cfg.assets if a.code != "KZT"]
    unknown = [a for a in order if a not in sellable]
    if unknown:
        raise CityError("invalid_funding_order", f"{', '.join(unknown)} cannot fund a purchase; choose from "
                        f"{', '.join(sellable)}")
    if len(set(order)) != len(order) or not order:
        raise CityError("invalid_funding_order", "the funding order lists each asset at most once, at least one")
    cap = city.cfg.card.slippage_cap_bps
    if slippage_cap_bps is not None and slippage_cap_bps > cap:
        raise CityError("slippage_above_programme_cap", f"the slippage cap may be at most the programme's "
                        f"{cap} bps, got {slippage_cap_bps}")
    try:
        new = replace(current, order=tuple(order), mode=mode or current.mode,
                      slippage_cap_bps=current.slippage_cap_bps if slippage_cap_bps is None else slippage_cap_bps,
                      spend_tenge_first=current.spend_tenge_first if spend_tenge_first is None else spend_tenge_first)
    except ValueError as error:
        raise CityError("invalid_funding_settings", str(error)) from None
    return _store_settings(city, card_id, by, "funding", new)


def _store_settings(city, card_id: int, by: str, which: str, new):
    """Write the card's new ``controls`` or ``funding`` settings and audit them (``card.<which>_updated``)
    in one transaction."""
    from card import issuing

    def work(uow):
        card = issuing.update_settings(uow, card_id, **{which: new})
        audit.append(uow, by, f"card.{which}_updated", str(card_id), {"cardholder": card.cardholder_id,
                                                                    which: new.to_dict()})
        return card
    return city.ledger.transaction(work)


# ------------------------------------------------------------------------------------------ exchange
def place_order(city, *, actor: str, instrument: str, side: str, type: str, qty_minor: int | None = None,
                quote_qty_minor: int | None = None, price: int | None = None, tif: str = "GTC",
                post_only: bool = False) -> Any:
    """A customer's own order on the AIFC exchange (limit, or market by base quantity or quote amount).

    Same checks as ``CryptoCity.buy``/``sell``: onboarded actor, the exchange's licence, a KYC tier
    that may trade. A buy against tenge first moves what the exchange account lacks from the bank
    account (as ``buy`` does), in the same transaction as the order. Immediate fills are recorded as
    tax events in the audit entry (``exchange.buy`` / ``exchange.sell``), as ``buy``/``sell`` do.
    """
    from exchange.fees import buy_hold_minor
    a = city._actor(actor)
    city._require(city.exchange_id, "trading_facility")
    city._can_trade(actor)
    inst = city.exchange.instruments.get(instrument)

    def work(uow):
        if side == "buy" and inst.quote == "KZT":
            if quote_qty_minor is not None:
                need = quote_qty_minor
            elif price is not None and qty_minor is not None:
                need = buy_hold_minor(price, qty_minor, inst.base_unit, max(inst.maker_fee_bps, inst.taker_fee_bps))
            else:
                need = 0  # market buy by quantity: the exchange prices the hold; fund the exchange account first
            ex_kzt = city._customer_account(uow, actor, "KZT")
            have = uow.balance(ex_kzt).available_minor
            if need > have:
                bank = uow.balance(a.bank_ledger_account_id).available_minor
                move = min(need - have, bank)
                if move > 0:
                    uow.transfer([Posting(a.bank_ledger_account_id, -move), Posting(ex_kzt, move)],
                                 memo="tenge from the bank account to the exchange")
        res = city.exchange.place_order(uow, actor, instrument, side, type, qty_minor=qty_minor,
                                        quote_qty_minor=quote_qty_minor, price=price, tif=tif, post_only=post_only)
        if side == "buy":
            tax = city._tax("acquisition", inst.base, res.filled_qty_minor,
                            city._kzt_value(inst.quote, res.quote_filled_minor + res.fee_minor), "buy",
                            f"order {res.order_id}")
        else:
            tax = city._tax("disposal", inst.base, res.filled_qty_minor,
                            city._kzt_value(inst.quote, res.quote_filled_minor - res.fee_minor), "sell",
                            f"order {res.order_id}")
        audit.append(uow, actor, f"exchange.{side}", instrument,
                     {"customer": actor, "order_id": res.order_id, "type": type, "price": price,
                      "qty_minor": qty_minor, "quote_qty_minor": quote_qty_minor,
                      "filled_qty_minor": res.filled_qty_minor, "quote_filled_minor": res.quote_filled_minor,
                      "fee_minor": res.fee_minor, "status": res.status, "tax": tax})
        return res
    return city.ledger.transaction(work)


def order_owner(city, order_id: int) -> str:
    from exchange import tables as xt
    with city.ledger.unit_of_work(read_only=True) as uow:
        owner = uow.conn.execute(select(xt.orders.c.owner).where(xt.orders.c.id == order_id)).scalar()
    if owner is None:
        raise CityError("order_not_found", f"no order {order_id}")
    return owner


def cancel_order(city, *, order_id: int) -> Any:
    """Cancel the owner's open order and release what it held."""
    owner = order_owner(city, order_id)

    def work(uow):
        res = city.exchange.cancel_order(uow, owner, order_id)
        audit.append(uow, owner, "exchange.cancel", res.symbol, {"customer": owner, "order_id": order_id,
                                                               "remaining_minor": res.remaining_minor})
        return res
    return city.ledger.transaction(work)


# ------------------------------------------------------------------------------------------ card network
def authorize(city, *, merchant_id: str, amount_minor: int, ref: str, card_id: int | None = None,
              pan: str | None = None):
    """A POS authorization for ``merchant_id`` by card id or PAN; ``ref`` is the purchase reference.

    When the card belongs to an onboarded customer this IS ``CryptoCity.pay`` (same checks, same audit
    entry and tax events, same idempotency key ``pay:<ref>``: a retry never sells twice). A card
    number the sandbox never issued still gets a recorded decline (14), as a real issuer answers.
    Returns ``card.AuthorizationResult``-like: the PaymentResult of ``pay`` or the card's own result.
    """
    from card import issuing
    with city.ledger.unit_of_work(read_only=True) as uow:
        card = issuing.find_card(uow, card_id=card_id, pan=pan) if (card_id is not None or pan) else None
    actor = card.cardholder_id if card is not None else None
    known = actor is not None and actor in city._actors and city._actors[actor].card_id == card.id
    if known:
        return city.pay(actor=actor, merchant=merchant_id, amount_minor=amount_minor, ref=ref)

    def record(uow, res):
        audit.append(uow, "card-network", "card.declined" if not res.approved else "card.approved", ref,
                     {"customer": actor, "merchant": merchant_id, "amount_minor": amount_minor,
                      "response_code": res.response_code, "reason": res.reason, "sold": list(res.sold),
                      "flags": [list(f) for f in res.flags], "tax": []})
    from .city import _pay_key
    return city.cards.authorize(card_id=None if card is None else card.id, pan=None if card is not None else pan,
                                amount_minor=amount_minor, merchant_id=merchant_id,
                                idempotency_key=_pay_key(ref), on_decided=record)


def clear(city, verb: str, *, authorization_id: int, amount_minor: int | None = None, key: str | None = None,
          by: str = "card-network", subject: str | None = None) -> dict:
    """Capture, reverse or refund an approved authorization (all of it, or ``amount_minor``), audited as
    ``card.<verb>`` on ``subject`` (default: the authorization id) in the same transaction.

    ``key`` is the clearing event's own idempotency key (unique in the card's events): the same key and
    operation returns the authorization as it stands, never capturing, refunding or auditing twice."""
    from card import clearing
    if verb not in CLEARING_VERBS:
        raise CityError("invalid_request", f"clearing is one of {', '.join(CLEARING_VERBS)}")

    def work(uow):
        if key is not None and clearing.already_done(uow, key, authorization_id, verb, amount_minor):
            return clearing.authorization(uow, authorization_id)
        out = getattr(clearing, verb)(city.cards, uow, authorization_id, amount_minor, key=key)
        audit.append(uow, by, f"card.{verb}", subject or str(authorization_id),
                     {"amount_minor": amount_minor, "authorization_id": authorization_id, "key": key})
        return out
    return city.ledger.transaction(work)


# ------------------------------------------------------------------------------------------ KZTE
def _regulator_account(city) -> str:
    """The EVM account holding the token's regulator role (granted by the owner on first use)."""
    issuer = city.issuer
    w3 = issuer.token.w3 if hasattr(issuer.token, "w3") else None
    accounts = w3.eth.accounts if w3 is not None else []
    regulator = accounts[3] if len(accounts) > 3 else issuer.owner
    if issuer.token.regulator() != regulator:
        issuer.token.set_regulator(issuer.owner, regulator)
    return regulator


def set_address_frozen(city, *, address: str, frozen: bool, by: str, reason: str = "") -> dict:
    """Freeze (or unfreeze) a KZTE holder address on chain: it can neither send nor receive.

    The issuer's own addresses (the custodian's omnibus wallet, the minter) cannot be frozen: that
    would stop every customer; freeze a customer's card or account instead."""
    from web3 import Web3
    if not isinstance(address, str) or not Web3.is_address(address):
        raise CityError("invalid_address", f"{address!r} is not an EVM address (0x + 40 hex digits)")
    issuer = city.issuer
    address = Web3.to_checksum_address(address)
    if address in {issuer.custodian, issuer.minter, issuer.owner}:
        raise CityError("address_protected", "the issuer's own addresses (custodian omnibus wallet, minter, "
                        "owner) cannot be frozen: every customer's KZTE would stop")
    regulator = _regulator_account(city)
    if bool(issuer.token.is_frozen(address)) != frozen:
        (issuer.token.freeze if frozen else issuer.token.unfreeze)(regulator, address)
    city.ledger.transaction(lambda uow: audit.append(uow, by, "kzte.frozen" if frozen else "kzte.unfrozen",
                                                     address, {"reason": reason}))
    return {"address": address, "frozen": bool(issuer.token.is_frozen(address))}

"""The POS terminal: tap a customer's card at a merchant, see the authorization, the crypto sold just in
time and the balances move; then capture, reverse or refund the purchase.

Pay is POST/redirect/GET: the form carries a reference made when the form was drawn, used as the
purchase's idempotency reference, so a double submit (or a resubmitted form) never pays twice. The
last result and the balances before it are kept in the signed session for the result page.
"""
from __future__ import annotations

from flask import flash, redirect, render_template, request, session, url_for
from markupsafe import Markup

from ledger.amounts import parse_amount
from ledger.errors import DomainError
from sandbox.charts.money_path import money_path_svg

from ..auth import access
from ..problems import is_domain_error
from ..services import services
from . import city_data
from .core import bp, city_or_none, money, needs_city, new_ref, principal, refused

MAX_AMOUNT_MINOR = 10**15  # far above every card limit, far below BIGINT: larger is a typo, not a purchase
REF_MAX = 64
CLEARING = {"capture": "Captured", "reverse": "Reversed", "refund": "Refunded"}
NEXT_STEPS = {"approved": ("capture", "reverse"), "captured": ("refund",)}  # by the purchase's status now
PARTIAL = ("capture", "refund")  # may take an amount (empty: all that is left)


class FormError(ValueError):
    pass


def parse_tenge(text: str) -> int:
    """'1500', '1 500.00', '1500.00 KZT' or '1500 ₸' -> tiyn (an int; never through a float)."""
    raw = (text or "").strip().removesuffix("₸").strip()
    if raw[-3:].upper() == "KZT":
        raw = raw[:-3].strip()
    if not raw:
        raise FormError("Enter an amount in tenge, like 1500.00")
    try:
        amount = parse_amount(f"{raw} KZT", services().ledger.assets).amount_minor
    except DomainError as error:
        raise FormError(f"That amount cannot be read: {error}") from None
    if amount <= 0:
        raise FormError("The amount must be above zero, like 1500.00")
    if amount > MAX_AMOUNT_MINOR:
        raise FormError("That amount is larger than any card could pay; check the digits")
    return amount


def _balance_rows(before: dict[str, int] | None, after: dict[str, int]) -> list[dict]:
    """One row per asset key, bank tenge first, then crypto by name, tenge left on the exchange last."""
    keys = set(after) | set(before or {})
    order = sorted(keys, key=lambda k: (k != "KZT", k == "KZT@exchange", k))
    rows = []
    for key in order:
        was = None if before is None else before.get(key, 0)
        now = after.get(key, 0)
        rows.append({"key": key, "asset": key.split("@")[0], "label": "KZT (bank)" if key == "KZT" else
                     ("KZT on the exchange" if key == "KZT@exchange" else key),
                     "before": was, "after": now, "change": None if was is None else now - was})
    return rows


def _form_scope():
    """(customers, merchants) this key may choose from."""
    city = city_or_none()
    who = principal()
    if who.role == "merchant":   # the shop's own terminal: its purchases to capture and refund (no pay form)
        return [], city_data.merchants(city, only=who.subject)
    only = who.subject if who.role == "customer" else None
    return city_data.customers(city, only=only), city_data.merchants(city)


def _render(status: int = 200, error: str | None = None, form: dict | None = None):
    city = city_or_none()
    scope = _form_scope()
    people, shops = scope
    last = session.get("pos_last")
    shown = request.args.get("ref")
    result = None
    if last and shown and last.get("ref") == shown:
        result = dict(last)
        try:
            after = city.balances(last["actor"])
        except Exception:  # noqa: BLE001 - a customer gone from this database: show what was recorded
            after = last["before"]
        result["balances"] = _balance_rows(last["before"], after)
        result["purchase"] = city_data.purchase(city, last["ref"])
        result["money_path"] = Markup(money_path_svg(last["result"], result["purchase"], money=money))
    form = form or {}
    if not form and result:  # keep the last choices for the next purchase
        form = {"customer": result["actor"], "merchant": result["merchant"]}
    can_clear = principal().role == "operator" or (
        principal().role == "merchant" and result is not None and principal().subject == result["merchant"])
    steps = NEXT_STEPS.get((result.get("purchase") or {}).get("status"), ()) if result and can_clear else ()
    shop_purchases = city_data.merchant_purchases(city, principal().subject) if principal().role == "merchant" else None
    return render_template("pos.html", title="POS terminal", customers=people, merchants=shops, result=result,
                           error=error, form=form, ref=new_ref("pos"), shop_purchases=shop_purchases,
                           can_pay=principal().role not in ("regulator", "merchant"),
                           steps=steps, partial=PARTIAL, clearing_ref=new_ref("clr"),
                           kyc_tiers=list(city.cfg.kyc.tiers)), status


@bp.route("/pos", methods=["GET", "POST"])
@access("customer", shared=True)  # the view pins a customer key to its own card; regulators only look
def pos():
    city = city_or_none()
    if city is None:
        return needs_city("POS terminal", "pick a customer card and a merchant, enter an amount, and watch the "
                          "authorization sell crypto just in time and move the balances")
    if request.method == "GET":
        return _render()
    form = {k: (request.form.get(k) or "").strip() for k in ("customer", "merchant", "amount", "ref", "channel",
                                                             "expiry")}
    who = principal()
    if who.role == "merchant":
        return refused("Customers pay from their own phones; a merchant key captures and refunds its purchases.")
    if who.role == "customer" and form["customer"] != who.subject:
        return refused("A customer key pays only with its own card.", 403)
    scope = _form_scope()
    try:
        if form["customer"] not in {c.actor for c in scope[0]}:
            raise FormError("Choose a customer card from the list")
        if form["merchant"] not in {m.id for m in scope[1]}:
            raise FormError("Choose a merchant from the list")
        ref = form["ref"]
        if not ref or len(ref) > REF_MAX or not ref.isprintable():
            raise FormError("The form lost its reference; reload the page and try again")
        amount_minor = parse_tenge(form["amount"])
        online = _card_not_present(form)
    except FormError as error:
        return _render(422, str(error), form)
    last = session.get("pos_last")
    replay = bool(last and last.get("ref") == ref)
    before = last["before"] if replay else city.balances(form["customer"])
    try:
        result = city.pay(actor=form["customer"], merchant=form["merchant"], amount_minor=amount_minor, ref=ref,
                          **online)
    except Exception as error:  # noqa: BLE001 - typed refusals are shown on the form; others propagate
        if not is_domain_error(error):
            raise
        return _render(422, f"Refused: {error}", form)
    session["pos_last"] = {"ref": ref, "actor": form["customer"], "merchant": form["merchant"],
                           "amount_minor": amount_minor, "before": before,
                           "result": {**result.to_dict(), "flags": [list(f) for f in result.flags]}}
    return redirect(url_for("dashboard.pos", ref=ref) + "#result", code=303)


def _card_not_present(form: dict) -> dict:
    """The ``pay`` arguments of the form's channel: none in person (a tap); online, the expiry and the
    CVV2 typed (the CVV2 is read from the request only: never kept in the form, the session or a log)."""
    if form["channel"] in ("", "card_present"):
        return {}
    if form["channel"] != "card_not_present":
        raise FormError("Choose in person (tap) or online (card not present)")
    cvv = (request.form.get("cvv") or "").strip()
    if not form["expiry"] or not cvv:
        raise FormError("An online purchase needs the card's expiry (MM/YY) and its 3-digit CVV2")
    return {"channel": "card_not_present", "expiry": form["expiry"], "cvv": cvv}


@bp.route("/pos/clearing", methods=["POST"])
@access("merchant", shared=True)  # the view admits the operator and the purchase's own merchant
def pos_clearing():
    city = city_or_none()
    if city is None:
        return needs_city("POS terminal", "capture, reverse and refund purchases")
    ref = (request.form.get("ref") or "").strip()
    action = request.form.get("action", "")
    if action not in CLEARING:
        return refused(f"Unknown action {action!r}; use capture, reverse or refund.", 400, "Not an action")
    bought = city_data.purchase(city, ref) if ref else None
    if bought is None:
        return refused(f"No purchase with reference {ref!r}.", 404, "Unknown purchase")
    who = principal()
    if not (who.role == "operator" or (who.role == "merchant" and who.subject == bought["merchant_id"])):
        return refused(f"A {who.role} key may not {action} this purchase.", 403)
    op = (request.form.get("op") or "").strip()
    if not op or len(op) > REF_MAX or not op.isprintable():
        return refused("The form lost its reference; reload the page and try again.", 400, "Form expired")
    amount_text = (request.form.get("amount") or "").strip() if action in PARTIAL else ""
    try:
        amount_minor = parse_tenge(amount_text) if amount_text else None
    except FormError as error:
        flash(f"{action.capitalize()} refused: {error}", "error")
        return redirect(url_for("dashboard.pos", ref=ref) + "#result", code=303)
    extra = {"amount_minor": amount_minor} if action in PARTIAL else {}
    try:
        # The form's own reference keys the step: a double click or a resubmitted page does it once.
        out = getattr(city, action)(ref=ref, key=f"dashboard:{op}:{action}", **extra)
    except Exception as error:  # noqa: BLE001 - typed refusals become a message; others propagate
        if not is_domain_error(error):
            raise
        flash(f"{action.capitalize()} refused: {error}", "error")
    else:
        done = {"capture": "captured_minor", "reverse": "reversed_minor", "refund": "refunded_minor"}[action]
        amount = amount_minor or out.get(done) or bought["amount_minor"]
        flash(f"{CLEARING[action]} {money(amount, 'KZT')} for purchase {ref}.", "ok")
    return redirect(url_for("dashboard.pos", ref=ref) + "#result", code=303)

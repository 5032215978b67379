"""The path of one authorization's money as a flow diagram, drawn with drawsvg: customer's crypto →
AIFC exchange (or the KZTE issuer, which redeems KZTE one to one) → customer's bank account → merchant, each arrow labelled with what moved and each box with
the fee taken there. pygal has no flow chart; four boxes and three arrows are the honest picture.

Deterministic (fixed layout, integer amounts formatted by the caller's ``money``); no script, no ids.
"""
from __future__ import annotations

from typing import Callable

import drawsvg as dw

from card.response_codes import is_approval

WIDTH, HEIGHT = 800, 196  # drawn in the POS result column (about 750 px): text stays near its own size
BOX_W, BOX_H, TOP = 164, 118, 40
GAP = (WIDTH - 4 - 4 * BOX_W) / 3  # 2 px kept at each side for the boxes' strokes
INK, MUTED, LINE, OK, BAD, FILL = "#1d2433", "#5d6679", "#b8c0d0", "#0b6e4f", "#a3261b", "#f6f7fb"


def _box(d: dw.Drawing, x: float, title: str, lines: list[str], *, cls: str, colour: str = INK) -> None:
    group = dw.Group(class_=f"flow-node {cls}")
    group.append(dw.Rectangle(x, TOP, BOX_W, BOX_H, rx=8, fill=FILL, stroke=colour, stroke_width=2))
    group.append(dw.Text(title, 15, x + BOX_W / 2, TOP + 24, text_anchor="middle", font_weight="bold", fill=colour))
    for i, line in enumerate(lines[:4]):
        group.append(dw.Text(line, 13, x + BOX_W / 2, TOP + 50 + 21 * i, text_anchor="middle", fill=INK))
    d.append(group)


def _arrow(d: dw.Drawing, x0: float, x1: float, label: str, *, colour: str) -> None:
    y = TOP + BOX_H / 2
    group = dw.Group(class_="flow-edge")
    group.append(dw.Line(x0 + 4, y, x1 - 10, y, stroke=colour, stroke_width=3))
    group.append(dw.Lines(x1 - 2, y, x1 - 12, y - 6, x1 - 12, y + 6, close=True, fill=colour))
    # the label sits above the boxes' top edge, where it may be wider than the gap between them
    group.append(dw.Text(label, 12, (x0 + x1) / 2, TOP - 10, text_anchor="middle", fill=MUTED))
    d.append(group)


def money_path_svg(result: dict, purchase: dict | None, *, money: Callable[[int, str], str]) -> str:
    """``result``: the authorization result (``AuthorizationResult.to_dict()``); ``purchase``: its stored row
    now (status, captured, merchant fee) or None. A declined purchase moved no money: the diagram says so."""
    approved = is_approval(result.get("response_code") or "")
    amount = result.get("amount_minor") or 0
    legs = result.get("sold") or []
    d = dw.Drawing(WIDTH, HEIGHT, viewBox=f"0 0 {WIDTH} {HEIGHT}", class_="chart money-path", role="img",
                   font_family="system-ui, sans-serif")
    d.append(dw.Title(f"Path of the money for a {money(amount, 'KZT')} purchase"))
    xs = [2 + i * (BOX_W + GAP) for i in range(4)]
    if not approved:
        _box(d, xs[0], "Declined", [f"code {result.get('response_code')}", "no money moved"], cls="declined",
             colour=BAD)
        d.append(dw.Text((result.get("reason") or "")[:110], 13, xs[0] + BOX_W + 16, TOP + BOX_H / 2, fill=INK))
        return d.as_svg(header="")
    sold = [money(leg["sold_qty_minor"], leg["asset"]) for leg in legs] or ["nothing sold:", "tenge covered it"]
    proceeds = sum(leg["proceeds_minor"] for leg in legs)
    exchange_fee = sum(leg["fee_minor"] for leg in legs)
    conversion_fee = result.get("conversion_fee_minor") or 0
    _box(d, xs[0], "Customer's crypto", sold, cls="crypto")
    # KZTE is not traded: the issuer redeems it for tenge one to one (no exchange fee)
    kzte = {leg["asset"] == "KZTE" for leg in legs}
    middle = {frozenset({True}): "KZTE issuer", frozenset({True, False}): "Exchange + issuer"}.get(
        frozenset(kzte), "AIFC exchange")
    fee_line = "1 KZTE = 1 KZT, no fee" if kzte == {True} else f"fee {money(exchange_fee, 'KZT')}"
    _box(d, xs[1], middle, [f"for {money(proceeds + exchange_fee, 'KZT')}", fee_line] if legs else ["not used"],
         cls="exchange")
    credited = [f"+{money(proceeds, 'KZT')}", f"card fee {money(conversion_fee, 'KZT')}"] if legs else [
        "its own tenge paid"]
    _box(d, xs[2], "Customer's bank", [*credited, f"held {money(amount, 'KZT')}"], cls="bank")
    status = (purchase or {}).get("status") or "approved"
    captured = (purchase or {}).get("captured_minor") or 0
    merchant_fee = (purchase or {}).get("merchant_fee_minor") or 0
    if captured:
        merchant = [f"captured {money(captured, 'KZT')}", f"fee {money(merchant_fee, 'KZT')}",
                    f"paid {money(captured - merchant_fee, 'KZT')}"]
    else:
        merchant = [f"{money(amount, 'KZT')} held", f"status: {status}", "paid at capture"]
    _box(d, xs[3], "Merchant", merchant, cls="merchant", colour=OK)
    first = ("redeemed 1:1" if kzte == {True} else "sold just in time") if legs else "—"
    _arrow(d, xs[0] + BOX_W, xs[1], first, colour=LINE if not legs else INK)
    _arrow(d, xs[1] + BOX_W, xs[2], f"{money(proceeds, 'KZT')}" if legs else "—", colour=LINE if not legs else INK)
    _arrow(d, xs[2] + BOX_W, xs[3], money(captured or amount, "KZT"), colour=OK)
    d.append(dw.Text("Amounts as recorded by the ledger; the fees go to the exchange, the card issuer and the "
                     "acquirer.", 12, 0, HEIGHT - 10, fill=MUTED))
    return d.as_svg(header="")

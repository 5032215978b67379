"""``cryptocity demo``: the Crypto City story on the embedded SQLite default.

A city is built from the ``crypto-city`` preset and populated (seeded Faker people and shops);
Aigerim deposits BTC and buys a coffee in the zone: the card sells just enough BTC on the AIFC
exchange, the café is paid in tenge; she is refunded for a second purchase; a purchase she cannot
cover is declined with its response code; the regulator's summary closes the story.
Same seed => byte-identical output (no wall clock, no paths); ``--seed`` changes people and prices.
"""
from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

from ledger import format_amount

from .populate import onboard_person, register_shops
from .population import generate
from .services import customers

DEFAULT_DB_DIR = Path(".cryptocity")
CUSTOMERS, MERCHANTS = 6, 4


def _fresh_sqlite(seed: int) -> str:
    DEFAULT_DB_DIR.mkdir(exist_ok=True)
    path = DEFAULT_DB_DIR / f"demo-seed-{seed}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{path}"


def _code_names() -> dict[str, str]:
    from card import response_codes as rc
    return {v: k.lower() for k, v in vars(rc).items() if k.isupper() and isinstance(v, str) and len(v) == 2}


def _money(amount_minor: int, asset: str) -> str:
    return format_amount(amount_minor, asset)


def _table(title: str, columns: list[str], rows: list[list[str]], right: set[int] = frozenset()) -> Table:
    table = Table(title=title, title_justify="left")
    for i, c in enumerate(columns):
        table.add_column(c, justify="right" if i in right else "left")
    for r in rows:
        table.add_row(*r)
    return table


def _balances_table(city, title: str, actors: list[tuple[str, str]], assets=("KZT", "BTC", "KZTE")) -> Table:
    rows = []
    for actor, name in actors:
        b = city.balances(actor)
        rows.append([name] + [_money(b.get(a, 0), a) for a in assets])
    return _table(title, ["customer"] + [f"{a} available" + (" (bank)" if a == "KZT" else "") for a in assets], rows,
                  set(range(1, len(assets) + 1)))


def _payment_line(console, who: str, where: str, res, names: dict[str, str]) -> None:
    if res.status == "approved":
        console.print(f"{who} pays {_money(res.amount_minor, 'KZT')} at {where}: [green]approved[/green] "
                      f"(response {res.response_code}, auth code {res.auth_code}).")
    else:
        console.print(f"{who} tries {where}: [red]declined {res.response_code} "
                      f"({names.get(res.response_code, 'unknown')})[/red] — {res.reason}. Nothing moved.")


def run_demo(db_url: str | None, seed: int, console: Console | None = None) -> None:
    from .city import CryptoCity
    from .cli_support import serve_hint
    console = console or Console()
    rng = random.Random(seed)
    names = _code_names()
    db_url = db_url or _fresh_sqlite(seed)
    city = CryptoCity.from_config("crypto-city", db=db_url, seed=seed)
    if city.read(lambda _city, uow: customers.customers(uow, limit=1)):
        city.close()
        raise SystemExit("the demo tells its story on an empty database; this one already has customers "
                         "(omit --db to use a fresh embedded SQLite file)")
    try:
        _story(city, console, rng, names, seed)
    finally:
        city.close()
    console.print(f"The city stays in its database. Explore it in the dashboard and the API: "
                  f"cryptocity serve --db {serve_hint(db_url)}", soft_wrap=True)


def _story(city, console: Console, rng: random.Random, names: dict[str, str], seed: int) -> None:
    cfg = city.cfg
    console.rule(f"[bold]{cfg.sandbox.name}")
    console.print(f"Sandbox time {city.now():%Y-%m-%d %H:%M} UTC, seed {seed}, database {city.ledger.db.dialect}. "
                  "The clock moves only when the story says so.")
    lic_rows = []
    for holder in list(cfg.participants):
        for lic in holder.licences:
            reg = cfg.regulator(lic.regulator)
            lic_rows.append([holder.name, lic.scope.replace("_", " "), lic.id, reg.name if reg else lic.regulator,
                             f"{lic.valid_from:%Y-%m-%d} .. {lic.valid_until:%Y-%m-%d}"])
    console.print(_table("Who is licensed for what, by whom", ["participant", "activity", "licence", "regulator",
                                                                "valid"], lic_rows))
    prices = []
    for symbol in ("BTC/KZT", "ETH/KZT", "USDT/KZT"):
        depth = city.exchange.depth(symbol, levels=1)
        bid, ask = depth["bids"][0][0], depth["asks"][0][0]
        prices.append([symbol, _money(bid, "KZT"), _money(ask, "KZT")])
    console.print(_table("The AIFC exchange opens: market makers quote around the seeded price model",
                         ["instrument", "best bid", "best ask"], prices, {1, 2}))

    # -- population -----------------------------------------------------------------------
    pop = generate(CUSTOMERS, MERCHANTS, seed)
    people = []
    ibans = {}
    for c in pop.customers:   # onboarded as `cryptocity populate` does it (by name), with the story's deposits
        deposit = rng.randrange(40_000, 400_000) * 100 if c.kyc_tier != "none" else 10_000_00
        ibans[c.id] = onboard_person(city, c, {"KZT": deposit} if c is not pop.customers[0] else {}).iban
        people.append(c)
    register_shops(city, pop.merchants)
    console.print(_table(f"Population (seed {seed}): {len(pop.customers)} customers with bank accounts and cards",
                         ["customer", "city", "KYC", "tax resident", "IBAN"],
                         [[c.full_name, c.city, c.kyc_tier, "yes" if c.resident else "no",
                           ibans[c.id]] for c in people]))
    console.print(_table(f"{len(pop.merchants)} more merchants register",
                         ["merchant", "MCC", "kind", "city", "in the zone"],
                         [[m.name, m.mcc, m.kind, m.city, "yes" if m.in_zone else "no"] for m in pop.merchants]))
    # Everyday life around Aigerim: tenge purchases, one KZTE saver, one large purchase, one no-KYC refusal.
    zone_market_served = False
    for i, c in enumerate(people[1:], start=1):
        shop = pop.merchants[i % len(pop.merchants)]
        if c.kyc_tier != "none" and not zone_market_served:
            shop, zone_market_served = cfg.merchants[1], True   # Zone Market: the shop Aigerim visits later
        amount = rng.randrange(2_000, 30_000) * 100
        if i == 1:
            amount = 210_000_00 if c.kyc_tier == "full" else amount
        if i == 2 and c.kyc_tier != "none":
            city.mint(actor=c.id, amount_minor=rng.randrange(10_000, 30_000) * 100)
        if city.pay(actor=c.id, merchant=shop.id, amount_minor=amount, ref=f"life-{i}").status == "approved":
            city.capture(ref=f"life-{i}")
    if not city.issuer_started:  # the summary always shows reserves vs supply: someone saves in KZTE
        city.mint(actor=people[1].id, amount_minor=5_000_00)

    # -- Aigerim ----------------------------------------------------------------------------
    aigerim = people[0]
    who = aigerim.first_name
    btc = rng.randrange(200, 400) * 1_000      # 0.002 .. 0.004 BTC (about 100 000 .. 210 000 KZT), whole lots
    console.rule(f"[bold]{aigerim.full_name} pays for coffee with bitcoin")
    dep = city.onchain_deposit(actor=aigerim.id, amount_minor=btc)
    console.print(f"{who} sends {_money(btc, 'BTC')} to her deposit address {dep['address']} at Steppe Custody "
                  f"(AFSA licence AFSA-CU-002): regtest transaction {dep['txid'][:16]}…, credited after "
                  f"{dep['confirmations']} confirmations. Her tenge bank account is empty.")
    console.print(_balances_table(city, "after the deposit", [(aigerim.id, aigerim.full_name)]))

    coffee = rng.randrange(1_200, 2_800) * 100
    res = city.pay(actor=aigerim.id, merchant="alatau-coffee", amount_minor=coffee, ref="aigerim-coffee")
    _payment_line(console, who, "Alatau Coffee (in the zone)", res, names)
    console.print(f"Her bank account was short by {_money(res.shortfall_minor, 'KZT')}; the card sold just enough "
                  f"BTC to raise it plus the {cfg.card.conversion_fee_bps / 100:g}% conversion fee "
                  f"({_money(res.conversion_fee_minor, 'KZT')}), in the same transaction as the hold:")
    console.print(_table("just-in-time funding", ["asset", "sold", "avg price (KZT)", "proceeds", "exchange fee",
                                                  "slippage"],
                         [[leg["asset"], _money(leg["sold_qty_minor"], leg["asset"]),
                           format_amount(leg["avg_price_minor"], "KZT", with_code=False),
                           _money(leg["proceeds_minor"], "KZT"), _money(leg["fee_minor"], "KZT"),
                           f"{leg['slippage_bps']} bps"] for leg in res.sold], {1, 2, 3, 4, 5}))
    city.advance(timedelta(hours=6))
    before = city.account_balance("merchant:alatau-coffee:KZT")
    city.capture(ref="aigerim-coffee")
    paid = city.account_balance("merchant:alatau-coffee:KZT") - before
    console.print(f"Six hours later the café clears the purchase and is paid {_money(paid, 'KZT')} in tenge "
                  f"({_money(coffee - paid, 'KZT')} merchant fee, {cfg.card.mdr_bps / 100:g}%). "
                  "It never touches crypto.")
    console.print(_balances_table(city, "after clearing", [(aigerim.id, aigerim.full_name)]))

    console.rule("[bold]A refund")
    groceries = rng.randrange(3_000, 6_000) * 100
    res2 = city.pay(actor=aigerim.id, merchant="zone-market", amount_minor=groceries, ref="aigerim-groceries")
    _payment_line(console, who, "Zone Market", res2, names)
    city.capture(ref="aigerim-groceries")
    # A licensed mining farm runs through the same day (docs/mining.md).
    city.onboard(actor="steppe-hash", kyc_tier="full", resident=True, aifc_investor=False,
                 deposits={"KZT": 1_000_000_00})
    farm = city.register_farm(farm="steppe-hash", location="ekibastuz", hashrate_ths=95_000, efficiency_j_per_th=34)
    city.advance(timedelta(days=1))
    mined = city.farm_report("steppe-hash")
    console.print(f"Meanwhile Steppe Hash, a mining farm at Ekibastuz licensed by the ministry ({farm.licence_id}), "
                  f"draws {_quantity(farm.power_kw)} kW from the grid: its meter read {_quantity(mined['metered_kwh'])} "
                  f"kWh for the day and the levy of 2 KZT/kWh, {_money(mined['levy_paid_minor'], 'KZT')}, was paid from its tenge account; "
                  f"its share of the block rewards, {_money(mined['mined_sat'], 'BTC')}, waits 100 blocks on the "
                  "regtest chain before it is credited.")
    # The whole purchase: the merchant pays it less the share of its fee (MDR) that the acquirer returns.
    refund = groceries
    city.refund(ref="aigerim-groceries", amount_minor=refund)
    console.print(f"Next day she returns the shopping and Zone Market refunds {_money(refund, 'KZT')}: the tenge "
                  "returns to her bank account (the BTC sold for it stays sold: a refund is a card transaction, "
                  "not a trade).")
    console.print(_balances_table(city, "after the refund", [(aigerim.id, aigerim.full_name)]))
    big = 240_000_00
    res3 = city.pay(actor=aigerim.id, merchant="steppe-electronics", amount_minor=big, ref="aigerim-laptop")
    _payment_line(console, who, f"a {_money(big, 'KZT')} laptop at Steppe Electronics", res3, names)
    if res3.status == "declined":
        console.print("Her tenge and all the BTC she could sell within the slippage cap do not cover it: the "
                      "authorization changed nothing, and the decline is on record for the regulator.")

    # -- the regulator --------------------------------------------------------------------
    city.advance(timedelta(hours=12))
    summary = city.regulator_summary()
    console.rule("[bold]The regulators' summary")
    card = summary["card"]
    console.print(_table("card programme (National Bank sandbox, NBK-CC-003)", ["measure", "value"], [
        ["authorizations", str(card["authorizations"])], ["approved", str(card["approved"])],
        ["declined", str(card["declined"])], ["approved volume", _money(card["approved_minor"], "KZT")],
        ["captured", _money(card["captured_minor"], "KZT")], ["refunded", _money(card["refunded_minor"], "KZT")],
        ["funded by crypto sales", _money(card["crypto_funded_minor"], "KZT")],
        ["conversion fees", _money(card["conversion_fees_minor"], "KZT")]], {1}))
    console.print(_table("declines by response code and reason", ["code", "name", "count", "total", "reason"],
                         [[d["response_code"], names.get(d["response_code"], "?"), str(d["count"]),
                           _money(d["amount_minor"], "KZT"),
                           d["reason"] + ("" if d["example"] == d["reason"] else f"\ne.g. {d['example']}")]
                          for d in summary["declines"]] or [["-", "-", "0", "-", "no declines"]], {2, 3}))
    console.print(_table("exchange volume (AFSA, AFSA-TF-001)", ["instrument", "trades", "volume"],
                         [[e["symbol"], str(e["trades"]), _money(e["notional_minor"], "KZT")]
                          for e in summary["exchange"]], {1, 2}))
    k = summary["kzte"]
    console.print(_table("KZTE reserves vs supply (issuer attestation)", ["measure", "value"], [
        ["tenge reserve", _money(k["reserve_minor"], "KZT")], ["KZTE supply on chain", _money(k["supply_minor"], "KZTE")],
        ["ledger liability", _money(k["liability_minor"], "KZTE")], ["reserve ratio", str(k["reserve_ratio"])],
        ["peg holds", "yes" if k["peg_holds"] else f"NO: {k['problem']}"]], {1}))
    who_is = {c.id: c.full_name for c in people}
    flag_rows = [[who_is.get(f["customer"], f["customer"]), f["merchant"], f["rule"], f["reason"]]
                 for f in summary["aml_flags"]["flagged"]]
    console.print(_table("AML flags", ["customer", "merchant", "rule", "reason"],
                         flag_rows or [["-", "-", "-", "no flags"]]))
    inv = summary["invariants"]
    if inv["verified"]:
        console.rule("[bold green]invariants verified")
        console.print(inv["summary"] + ": every asset sums to zero, every balance equals its entries, no account "
                      "is overdrawn, the KZTE peg holds and the audit log's hash chain is intact.")
    else:
        console.rule("[bold red]invariants BROKEN")
        console.print(inv["summary"])
        raise SystemExit(1)


def _quantity(text: str) -> str:
    """A decimal string (kW, kWh) as people read it: thousands grouped, no trailing zeros ("3 230", "0.5")."""
    from decimal import Decimal
    value = Decimal(text).normalize()
    whole, _, frac = f"{value:f}".partition(".")
    grouped = f"{int(whole):,}".replace(",", " ")
    return f"{grouped}.{frac}" if frac else grouped

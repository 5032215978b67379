"""What the mining page, the API and the regulator read: farms with their power, levy and coins, the
detection cases and flags, and a farm's tax report (corporate income tax on its profit)."""
from __future__ import annotations

from decimal import Decimal

from mining import store
from mining.errors import UnknownFarm
from mining.levy import cit_minor

from ..context import CityContext
from .mining_cases import SEIZED_ACCOUNT
from .mining_guard import SCOPE


SHOWN = 60   # the newest readings and levies a farm's report lists


def _kwh(wh: int) -> str:
    return f"{wh / 1000:.3f}"


def farm_rows(city: CityContext, uow) -> list[dict]:
    """Every farm with its power, licence, levy accrued and paid, coins mined, credited and sold."""
    conn = uow.conn
    registry = city.licences   # kept current by every unit of work (CityContext.begin)
    rewards = store.reward_totals(conn)
    sales = store.sale_totals(conn)
    levies = store.levy_totals(conn)
    out = []
    for farm in store.farms(conn):
        lic = registry.find(farm["id"], SCOPE)
        mined = rewards.get(farm["id"], {})
        lev = levies.get(farm["id"], {"paid": 0, "unpaid": 0, "wh": 0})
        sold_sat, proceeds = sales.get(farm["id"], (0, 0))
        out.append({
            "farm": farm["id"], "location": farm["location"], "power_source": farm["power_source"],
            "meter_working": bool(farm["meter_working"]), "hashrate_ths": farm["hashrate_ths"],
            "efficiency_j_per_th": str(Decimal(farm["efficiency_mj_per_th"]) / 1000),
            "power_kw": f"{farm['hashrate_ths'] * farm['efficiency_mj_per_th'] / 1_000_000:.3f}",
            "max_load_kw": f"{farm['max_load_w'] / 1000:.3f}", "licensed": bool(farm["licensed"]),
            "licence_id": farm["licence_id"], "licence_status": lic.status(uow.now()) if lic else "none",
            "status": farm["status"], "sell_pct": farm["sell_bps"] // 100,
            "metered_kwh": _kwh(lev["wh"]), "drawn_kwh": _kwh(farm["drawn_wh"]),
            "levy_paid_minor": lev["paid"], "levy_unpaid_minor": lev["unpaid"],
            "mined_sat": sum(mined.values()), "immature_sat": mined.get("immature", 0),
            "credited_sat": mined.get("credited", 0) + mined.get("seized", 0), "seized_sat": mined.get("seized", 0),
            "sold_sat": sold_sat, "sale_proceeds_minor": proceeds})
    return out


def summary(city: CityContext, uow) -> dict:
    """The mining section of the regulator's report: farms, totals, cases and flags."""
    farms = farm_rows(city, uow)
    m = city.cfg.mining
    totals = {k: sum(f[k] for f in farms) for k in ("levy_paid_minor", "levy_unpaid_minor", "mined_sat",
                                                       "credited_sat", "sold_sat", "seized_sat")}
    load_mw = store.licensed_load_mw(uow.conn)
    cases = store.cases(uow.conn)
    return {
        "regulator": {"id": m.regulator_id, "name": m.regulator_name},
        "rates": {"grid_tiyn_per_kwh": m.levy_grid_tiyn_per_kwh, "own_offgrid_tiyn_per_kwh": m.levy_offgrid_tiyn_per_kwh,
                  "levy_period_days": m.levy_period_days, "grace_days": m.levy_grace_days},
        "licensed_farms": sum(1 for f in farms if f["licensed"]),
        "licensed_load_kw": f"{load_mw / 1_000_000:.3f}",
        "surplus_power_mw": m.surplus_power_mw,
        "farms": farms, "totals": totals,
        "cases": [{"case_id": c["id"], "location": c["location"], "status": c["status"],
                   "unexplained_kwh": _kwh(c["unexplained_wh"]), "days": c["days"], "farms": list(c["farms"] or []),
                   "evaded_levy_minor": c["evaded_levy_minor"], "seized_sat": c["seized_sat"],
                   "opened_at": c["opened_at"].isoformat(),
                   "closed_at": c["closed_at"].isoformat() if c["closed_at"] else None} for c in cases],
        "flags": [{"farm": f["farm_id"], "location": f["location"], "rule": f["rule"], "reason": f["reason"],
                   "at": f["at"].isoformat()} for f in store.flags(uow.conn)],
        "seized_btc_sat": _balance(uow, SEIZED_ACCOUNT),
        "levy_revenue_minor": _balance(uow, "state:treasury:KZT"),
    }


def regulator_section(city: CityContext, uow) -> dict:
    """The mining lines of the regulator's summary: farms, levy, coins mined, sold (on the AIFC exchange)
    and seized, and the detection cases."""
    farms = farm_rows(city, uow) if store.any_farm(uow.conn) else []
    cases = store.cases(uow.conn) if farms else []
    return {"farms": len(farms), "licensed_farms": sum(1 for f in farms if f["licensed"]),
            **{k: sum(f[k] for f in farms) for k in ("levy_paid_minor", "levy_unpaid_minor", "mined_sat",
                                                     "sold_sat", "seized_sat")},
            "cases_open": sum(1 for c in cases if c["status"] == "open"),
            "cases_closed": sum(1 for c in cases if c["status"] == "closed"),
            "sales": [{"farm": f["farm"], "sold_sat": f["sold_sat"], "proceeds_minor": f["sale_proceeds_minor"]}
                      for f in farms if f["sold_sat"]]}


def _balance(uow, code: str) -> int:
    acct = uow.find_account(code)
    return 0 if acct is None else acct.balance_minor


def farm_report(city: CityContext, uow, farm: str) -> dict:
    """One farm's figures and its tax report: revenue is its credited output at the model price when it
    was credited; costs are the levy charged (paid or not) and its power bill at
    ``mining.tariff_tiyn_per_kwh``; corporate income tax at ``tax.cit_pct`` on a positive profit."""
    row = next((f for f in farm_rows(city, uow) if f["farm"] == farm), None)
    if row is None:
        raise UnknownFarm(f"{farm} is not a registered farm", farm=str(farm)[:120])
    raw = store.farm(uow.conn, farm)
    revenue = store.credited_value(uow.conn, farm)
    levy = row["levy_paid_minor"] + row["levy_unpaid_minor"]
    power_bill = raw["drawn_wh"] * city.cfg.mining.tariff_tiyn_per_kwh // 1000
    profit = revenue - levy - power_bill
    cit_bps = int(city.cfg.tax.cit_pct * 100)
    return {**row, "readings": [{"day_start": r["day_start"].isoformat(), "kwh": _kwh(r["wh"]),
                                 "assessed_at_max_load": bool(r["assessed"])} for r in store.readings(uow.conn, farm, SHOWN)],
            "levies": [{"levy_id": v["id"], "period_end": v["period_end"].isoformat(), "kwh": _kwh(v["wh"]),
                        "rate_tiyn_per_kwh": v["rate_tiyn_per_kwh"], "levy_minor": v["levy_minor"],
                        "status": v["status"]} for v in store.newest_levies(uow.conn, farm, SHOWN)],
            "flags": [{"rule": f["rule"], "reason": f["reason"]} for f in store.flags(uow.conn, farm)],
            "tax": {"revenue_minor": revenue, "levy_minor": levy, "power_bill_minor": power_bill,
                    "profit_minor": profit, "cit_pct": str(city.cfg.tax.cit_pct), "cit_minor": cit_minor(profit, cit_bps)}}

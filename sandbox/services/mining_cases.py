"""The regulator's side of mining: the detection rule over the grid operator's readings, cases, closing
a farm and seizing its output (moved to a state-held account: nothing vanishes)."""
from __future__ import annotations

from dataclasses import dataclass, field

from ledger import Posting
from mining import energy_wh, levy as levy_rules, store
from mining.detection import examine
from mining.errors import FarmClosed, NoUnexplainedLoad, UnknownFarm

from .. import audit, events
from ..context import CityContext
from . import licences, trading
from .result import Result

SEIZED_ACCOUNT = "state:seized:BTC"

ORDERS_PAGE = 500   # a closing farm's open orders are cancelled a page at a time


@dataclass(frozen=True)
class Detected(Result):
    examined: int
    flagged_days: int
    cases: list = field(default_factory=list)
    status: str = "ok"


@dataclass(frozen=True)
class FarmClosedResult(Result):
    farm: str
    case_id: int
    evaded_levy_minor: int
    seized_sat: int
    status: str = "ok"


def detect(city: CityContext, uow) -> Detected:
    """Examine every substation reading not yet examined: a day whose unexplained load passes the
    threshold raises an ``unexplained_load`` flag at its location, and the regulator opens a case there
    (or adds the day to the case already open). Returns the cases touched."""
    m = city.cfg.mining
    rows = store.grid_readings(uow.conn, unexamined=True)
    touched: dict[str, dict] = {}
    flagged = 0
    for row in rows:
        finding = examine(row["location"], row["day"], row["reading_wh"], row["baseline_wh"], row["declared_wh"],
                          tolerance_bps=m.detection_tolerance_bps, min_unexplained_wh=m.min_unexplained_kwh * 1000)
        if not finding.flagged:
            continue
        flagged += 1
        store.add_flag(uow.conn, "unexplained_load", f"{finding.unexplained_wh / 1000:.3f} kWh unexplained at "
                       f"{finding.location} on {finding.day} (threshold {finding.threshold_wh / 1000:.3f} kWh)",
                       uow.now(), loc=finding.location)
        case = store.open_case(uow.conn, finding.location)
        if case is None:
            store.add_case(uow.conn, finding.location, finding.unexplained_wh, 1, uow.now())
        else:
            store.update_case(uow.conn, case["id"], unexplained_wh=case["unexplained_wh"] + finding.unexplained_wh,
                              days=case["days"] + 1)
        touched[finding.location] = store.open_case(uow.conn, finding.location)
    store.mark_examined(uow.conn, [r["id"] for r in rows])
    cases = [_case_view(c) for c in touched.values()]
    if rows:
        audit.append(uow, city.cfg.mining.regulator_id, "mining.detect", "grid",
                     {"examined": len(rows), "flagged_days": flagged, "cases": [c["case_id"] for c in cases]})
    return Detected(len(rows), flagged, cases)


def _case_view(case: dict) -> dict:
    return {"case_id": case["id"], "location": case["location"], "status": case["status"],
            "unexplained_kwh": f"{case['unexplained_wh'] / 1000:.3f}", "days": case["days"],
            "farms": list(case["farms"] or []), "evaded_levy_minor": case["evaded_levy_minor"],
            "seized_sat": case["seized_sat"]}


def close_farm(city: CityContext, uow, *, farm: str, reason: str = "") -> FarmClosedResult:
    """Close ``farm`` on the case open at its location: it stops drawing power and mining, its licence (if
    any) is suspended, the BTC it holds at the exchange is seized to ``state:seized:BTC`` (rewards still
    maturing are seized when they mature), and the levy it evaded — its whole draw at its power source's
    rate, for a farm without a licence — is put on the case. Refused: ``unknown_farm``, ``farm_closed``,
    ``no_case`` (detect first)."""
    row = store.farm(uow.conn, farm, for_update=True)
    if row is None:
        raise UnknownFarm(f"{farm} is not a registered farm", farm=str(farm)[:120])
    if row["status"] == "closed":
        raise FarmClosed(f"farm {farm} is already closed", farm=farm)
    case = store.open_case(uow.conn, row["location"])
    if case is None:
        raise NoUnexplainedLoad(f"no case is open at {row['location']}: run the detection over the grid "
                                "operator's readings first", location=row["location"])
    now = uow.now()
    m = city.cfg.mining
    power = row["hashrate_ths"] * row["efficiency_mj_per_th"]
    drawn = row["drawn_wh"] + energy_wh(power, max(0, int((now - row["metered_until"]).total_seconds())))
    evaded = 0
    if not row["licensed"]:
        rate = levy_rules.rate_for(row["power_source"], m.levy_grid_tiyn_per_kwh, m.levy_offgrid_tiyn_per_kwh)
        evaded = levy_rules.levy_minor(drawn, rate)
    store.update_farm(uow.conn, farm, status="closed", closed_at=now, drawn_wh=drawn, metered_until=now)
    if row["licence_id"]:
        licences.suspend_licence(city, uow, licence_id=row["licence_id"], reason=reason or "farm closed")
    # the farm's resting orders are cancelled first: the coins they held are seized with the rest, and no
    # order of a closed farm fills afterwards
    while orders := city.exchange.open_orders(uow, farm, limit=ORDERS_PAGE):
        for order in orders:
            trading.cancel_order(city, uow, order_id=order.order_id)
    held = uow.find_account(f"customer:{farm}:BTC")
    seized = 0 if held is None else uow.balance(held.id).available_minor
    if seized:
        seize(city, uow, farm, seized, reason or f"case {case['id']}")
    farms = sorted(set(case["farms"] or []) | {farm})
    store.update_case(uow.conn, case["id"], status="closed", closed_at=now, farms=farms,
                      evaded_levy_minor=case["evaded_levy_minor"] + evaded, seized_sat=case["seized_sat"] + seized)
    store.add_flag(uow.conn, "farm_closed", reason or f"closed on case {case['id']}", now, farm_id=farm,
                   loc=row["location"])
    audit.append(uow, m.regulator_id, "mining.farm_closed", farm,
                 {"case_id": case["id"], "evaded_levy_minor": evaded, "seized_sat": seized, "drawn_wh": drawn,
                  "licensed": bool(row["licensed"]), "reason": reason})
    events.emit(uow, "mining.farm_closed", {
        "object": "mining_farm", "farm": farm, "location": row["location"], "case_id": case["id"],
        "licensed": bool(row["licensed"]), "drawn_kwh": f"{drawn / 1000:.3f}", "evaded_levy_minor": evaded,
        "seized_sat": seized, "status": "closed", "reason": reason}, customer=farm)
    return FarmClosedResult(farm, case["id"], evaded, seized)


def seize(city: CityContext, uow, farm: str, amount_sat: int, reason: str) -> None:
    """Move ``amount_sat`` of the farm's BTC at the exchange to the state-held account."""
    held = uow.find_account(f"customer:{farm}:BTC")
    state = uow.find_account(SEIZED_ACCOUNT) or uow.open_account("seized", "BTC", "state")
    uow.transfer([Posting(held.id, -amount_sat), Posting(state.id, amount_sat)],
                 memo=f"seized from farm {farm}: {reason}"[:200], kind="seizure")
    audit.append(uow, city.cfg.mining.regulator_id, "mining.seized", farm,
                 {"amount_sat": amount_sat, "reason": reason})

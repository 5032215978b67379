"""Mining farms in the city: registration (with a digital-mining licence), the meter, the clock advance
that mines rewards and reads meters, the levy on mining electricity and its payment.

A farm is an onboarded customer (a company) that also runs machines: its rewards arrive as coinbase
outputs on the city's regtest chain at its custodial deposit address and are credited like any deposit
once mature; its levy is paid from its tenge (bank) account; it sells on the AIFC exchange like any
customer (``trading.place_order``) while its licence is active. The arithmetic is in ``mining/``.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ledger import Posting
from mining import FarmSpec, energy_wh, levy as levy_rules, max_load_wh, share_reward, store
from mining.consumption import DAY_S
from mining.errors import (FarmClosed, FarmExists, LevyUnpaid, LicenceIdTaken, NothingOwed, PowerAllocationExceeded,
                           TooManyFarms, UnknownFarm)

from .. import audit, city_state, events
from ..context import CityContext
from ..licensing import LicenceRegistry, LicenceState
from ..tax import ACQUISITION, tax_events
from . import licences, mining_grid, trading
from .mining_guard import SCOPE
from .result import Result

DAY = timedelta(days=1)
SCAN_BLOCKS = 2000   # the custodian scans this many blocks a call


@dataclass(frozen=True)
class FarmRegistered(Result):
    farm: str
    location: str
    power_kw: str
    licence_id: str | None
    deposit_address: str
    status: str = "ok"


@dataclass(frozen=True)
class MeterChanged(Result):
    farm: str
    meter_working: bool
    status: str = "ok"


@dataclass(frozen=True)
class LevyPaid(Result):
    farm: str
    levies: int
    paid_minor: int
    status: str = "ok"


def _farm(uow, farm_id: str) -> dict:
    farm = store.farm(uow.conn, farm_id, for_update=True)
    if farm is None:
        raise UnknownFarm(f"{farm_id} is not a registered farm", farm=str(farm_id)[:120])
    return farm


def register_farm(city: CityContext, uow, *, farm: str, location: str, power_source: str, hashrate_ths: int,
                  efficiency_j_per_th, max_load_kw: int | None = None, meter_working: bool = True,
                  licensed: bool = True, sell_pct: int = 0) -> FarmRegistered:
    """Register the onboarded customer ``farm`` as a mining farm. Checks, in order: an onboarded actor,
    the declaration (``FarmSpec.declare``), not a farm already, and for a licensed farm the power allotted
    to mining (``mining.surplus_power_mw``). A licensed farm gets a ``digital_mining`` licence from the
    configured regulator; ``licensed=False`` is a farm the regulator does not know of (an illegal one)."""
    city_state.require_customer(uow.conn, farm)
    # Under the licences' lock from the first check: two processes registering at once must not both pass
    # the power cap or the licence-id check (READ COMMITTED sees neither's uncommitted farm).
    uow.advisory_lock(city_state.LICENCE_LOCK)
    spec = FarmSpec.declare(farm_id=farm, location=location, power_source=power_source, hashrate_ths=hashrate_ths,
                            efficiency_j_per_th=efficiency_j_per_th, max_load_kw=max_load_kw,
                            meter_working=meter_working, sell_pct=sell_pct)
    if store.farm(uow.conn, farm) is not None:
        raise FarmExists(f"{farm} is already a registered farm", farm=farm)
    if store.farm_count(uow.conn) >= store.MAX_ROWS:   # every advance meters each farm: a bound on that work
        raise TooManyFarms(f"the city has {store.MAX_ROWS} farms, as many as it keeps", farm=farm)
    m = city.cfg.mining
    now = uow.now()
    if licensed and m.surplus_power_mw is not None:
        after_mw = store.licensed_load_mw(uow.conn) + spec.power_mw
        if after_mw > m.surplus_power_mw * 10**9:
            raise PowerAllocationExceeded(
                f"the licensed farms would draw {after_mw / 10**9:.3f} MW, more than the {m.surplus_power_mw} MW "
                "allotted to mining", farm=farm, allotted_mw=m.surplus_power_mw)
    lic_id = None
    if licensed:
        lic_id = f"{m.regulator_id.upper()}-DM-{farm}"[:64]
        if any(lic.id == lic_id for lic in city_state.load_licences(uow.conn)):   # a long name, cut at 64
            raise LicenceIdTaken(f"the licence id {lic_id} belongs to another licence; choose a shorter farm "
                                 "name", farm=farm, licence_id=lic_id)
        _grant_licence(city, uow, LicenceState(lic_id, farm, m.regulator_id, SCOPE, now,
                                               now + timedelta(days=365 * m.licence_years), True))
    store.insert_farm(uow.conn, spec, licensed=licensed, licence_id=lic_id, at=now)
    mining_grid.watch_location(city, uow, location, now)
    address = city.custodian.deposit_address(farm, "bitcoin", uow=uow)
    power_kw = f"{spec.power_mw / 1_000_000:.3f}"
    audit.append(uow, m.regulator_id if licensed else farm, "mining.farm_registered", farm,
                 {"location": location, "power_source": power_source, "hashrate_ths": hashrate_ths,
                  "efficiency_mj_per_th": spec.efficiency_mj_per_th, "max_load_w": spec.max_load_w,
                  "licensed": licensed, "licence_id": lic_id, "meter_working": spec.meter_working})
    return FarmRegistered(farm, location, power_kw, lic_id, address)


def _grant_licence(city: CityContext, uow, state: LicenceState) -> None:
    """Seed ``state``; the caller holds ``city_state.LICENCE_LOCK``."""
    city_state.seed_licences(uow.conn, [state])
    version = city_state.bump_licences_version(uow.conn)
    registry = LicenceRegistry.from_config(city.cfg, city_state.load_licences(uow.conn))
    uow.after_commit(lambda: city.install_licences(registry, version))


def set_meter(city: CityContext, uow, *, farm: str, working: bool) -> MeterChanged:
    """A farm's meter breaks (``working=False``: its days are assessed at maximum load from the next
    reading on) or is repaired."""
    row = _farm(uow, farm)
    if row["status"] == "closed":
        raise FarmClosed(f"farm {farm} was closed by the regulator", farm=farm)
    store.update_farm(uow.conn, farm, meter_working=bool(working))
    audit.append(uow, farm, "mining.meter", farm, {"working": bool(working)})
    return MeterChanged(farm, bool(working))


def pay_levy(city: CityContext, uow, *, farm: str) -> LevyPaid:
    """Pay every unpaid levy of ``farm`` from its tenge account (all or nothing): ``nothing_owed`` when it
    owes none, ``levy_unpaid`` when the account cannot pay them all. A licence suspended for an unpaid
    levy stays suspended until the regulator reinstates it."""
    _farm(uow, farm)
    unpaid = store.levies(uow.conn, farm, status="unpaid")
    if not unpaid:
        raise NothingOwed(f"{farm} owes no levy", farm=farm)
    total = sum(r["levy_minor"] for r in unpaid)
    bank = city_state.require_customer(uow.conn, farm).bank_ledger_account_id
    have = uow.balance(bank).available_minor
    if have < total:
        raise LevyUnpaid(f"{farm} owes {total / 100:.2f} KZT of levy but its tenge account holds "
                         f"{have / 100:.2f} KZT", farm=farm, owed_minor=total, available_minor=have)
    for row in unpaid:
        _pay(city, uow, farm, bank, row["levy_minor"], row["id"])
        store.update_levy(uow.conn, row["id"], status="paid", paid_at=uow.now())
    audit.append(uow, farm, "mining.levy_paid", farm, {"levies": len(unpaid), "paid_minor": total})
    return LevyPaid(farm, len(unpaid), total)


def _pay(city: CityContext, uow, farm: str, bank_account_id: int, amount_minor: int, levy_id: int) -> None:
    if amount_minor > 0:
        treasury = uow.find_account("state:treasury:KZT") or uow.open_account("treasury", "KZT", "state")
        uow.transfer([Posting(bank_account_id, -amount_minor), Posting(treasury.id, amount_minor)],
                     memo=f"mining electricity levy {levy_id} of {farm}", kind="levy")


# ------------------------------------------------------------------ the clock advance
def on_advance(city: CityContext, uow, previous: datetime, now: datetime) -> None:
    """Called by ``clock.advance`` inside its unit of work, after the time moved to ``now``: mine the
    block intervals since ``previous`` (rewards to farms, then credit the mature ones), read every farm's
    meter for each whole day, charge (and pay) levies at each period's end, suspend licences whose levy
    stayed unpaid past the grace, and let the grid operator read its substations."""
    conn = uow.conn
    if not store.any_farm(conn):
        return
    registry = LicenceRegistry.from_config(city.cfg, city_state.load_licences(conn))
    farms = store.farms(conn)
    from ..incidents.state import chain_halted
    if chain_halted(conn) is None:   # a halted chain mines nothing; the farms' intervals wait for the restart
        _mine(city, uow, farms, registry, previous, now)
    for farm in farms:
        _read_meter(city, uow, farm, registry, now)
    _enforce_grace(city, uow, now)
    mining_grid.read_substations(city, uow, now)


def operating(farm: dict, registry: LicenceRegistry, at: datetime) -> bool:
    """A farm runs unless closed; a licensed one only while its licence is active."""
    if farm["status"] != "active":
        return False
    return not farm["licensed"] or registry.is_licensed(farm["id"], SCOPE, at)


def _mine(city: CityContext, uow, farms: list[dict], registry: LicenceRegistry, previous: datetime,
          now: datetime) -> None:
    m = city.cfg.mining
    interval = m.block_interval_s
    blocks = min(int(now.timestamp()) // interval - int(previous.timestamp()) // interval, m.max_blocks_per_advance)
    payouts = []
    for farm in farms:
        total = int((now - farm["registered_at"]).total_seconds()) // interval
        new = total - farm["reward_intervals"]
        if new <= 0:
            continue
        sat, carry = 0, farm["reward_carry"]
        if operating(farm, registry, now):
            sat, carry = share_reward(new, m.block_subsidy_sat, farm["hashrate_ths"], m.network_hashrate_ths, carry)
        store.update_farm(uow.conn, farm["id"], reward_intervals=total, reward_carry=carry)
        if sat > 0:
            payouts.append((farm, sat, new, total))
    if not payouts and blocks <= 0:
        return
    with city.custody_lock:
        custodian, node = city.custodian, city.btc_node
        # The chain is in the database (shared by every process): its blocks and rewards commit with this
        # advance, or not at all.
        node.lock(uow)
        remaining = blocks - 1   # one block per interval; the rewards go in the last one
        while remaining > 0:
            node.mine(min(1000, remaining), uow=uow)
            remaining -= min(1000, remaining)
        for farm, sat, new, total in payouts:
            address = custodian.deposit_address(farm["id"], "bitcoin", uow=uow)
            txid = node.coinbase(address, sat, f"{farm['id']}:{total}", uow=uow)
            store.add_reward(uow.conn, farm["id"], txid, sat, new, now)
            events.emit(uow, "mining.reward", {"object": "mining_reward", "farm": farm["id"], "txid": txid,
                                               "amount_sat": sat, "intervals": new, "status": "immature",
                                               "height": node.height(uow=uow) + 1}, customer=farm["id"])
        node.mine(1, uow=uow)
        credited = []
        for _ in range(blocks // SCAN_BLOCKS + 2):
            credited += custodian.scan(uow=uow)
    for dep in credited:
        reward = store.reward_by_txid(uow.conn, dep["txid"])
        if reward is not None:
            _credit_reward(city, uow, reward, registry, now)


def _credit_reward(city: CityContext, uow, reward: dict, registry: LicenceRegistry, now: datetime) -> None:
    """A mature reward the custodian credited: recorded for tax; seized at once if the farm was closed;
    otherwise sold in part by the farm's standing rule."""
    farm_id, sat = reward["farm_id"], reward["amount_sat"]
    value = city.value_kzt("BTC", sat)
    store.update_reward(uow.conn, reward["txid"], status="credited", value_minor=value, credited_at=now)
    audit.append(uow, city.custodian_id, "funds.deposit", farm_id, {
        "customer": farm_id, "asset": "BTC", "amount_minor": sat, "txid": reward["txid"], "source": "mining",
        "tax": tax_events(ACQUISITION, "BTC", sat, value, "mining", reward["txid"])})
    events.emit(uow, "deposit.confirmed", {"object": "deposit", "customer": farm_id, "asset": "BTC",
                                           "amount_minor": sat, "source": "mining", "txid": reward["txid"],
                                           "confirmations": city.cfg.mining.coinbase_maturity_blocks},
                customer=farm_id)
    farm = store.farm(uow.conn, farm_id)
    if farm["status"] == "closed":
        from .mining_cases import seize
        seize(city, uow, farm_id, sat, f"reward {reward['txid']} matured after the farm was closed")
        store.update_reward(uow.conn, reward["txid"], status="seized")
        return
    if farm["sell_bps"] and operating(farm, registry, now):
        _sell_share(city, uow, farm_id, sat * farm["sell_bps"] // 10_000)


def _sell_share(city: CityContext, uow, farm_id: str, qty_sat: int) -> None:
    """The standing rule "sell N % of each reward": a market sell on BTC/KZT, whole lots only; a sale the
    exchange refuses (below its minimum, a halted book) is skipped, never failing the advance."""
    from ledger.errors import DomainError
    inst = city.exchange.instruments.get("BTC/KZT")
    qty = qty_sat // inst.lot_size * inst.lot_size
    if qty <= 0:
        return
    try:
        with uow.savepoint("mining_sell"):
            trading.sell(city, uow, actor=farm_id, instrument="BTC/KZT", qty_minor=qty)
    except DomainError as refused:
        store.add_flag(uow.conn, "sale_skipped", f"the standing sale of {qty} sat was refused: {refused}",
                       uow.now(), farm_id=farm_id)


def _read_meter(city: CityContext, uow, farm: dict, registry: LicenceRegistry, now: datetime) -> None:
    m = city.cfg.mining
    start = farm["metered_until"]
    if start + DAY > now:
        return
    period_days, period_wh, drawn = farm["period_days"], farm["period_wh"], farm["drawn_wh"]
    power = farm["hashrate_ths"] * farm["efficiency_mj_per_th"]
    while start + DAY <= now:
        end = start + DAY
        if operating(farm, registry, end):
            day_wh = energy_wh(power, DAY_S)
            drawn += day_wh
            if farm["licensed"]:
                wh = day_wh if farm["meter_working"] else max_load_wh(farm["max_load_w"], DAY_S)
                store.add_reading(uow.conn, farm["id"], start, end, wh, not farm["meter_working"])
                period_wh += wh
        if farm["licensed"] and farm["status"] == "active":
            period_days += 1
            if period_days >= m.levy_period_days:
                _charge(city, uow, farm, end - DAY * period_days, end, period_wh)
                period_days, period_wh = 0, 0
        start = end
    store.update_farm(uow.conn, farm["id"], metered_until=start, period_days=period_days, period_wh=period_wh,
                      drawn_wh=drawn)


def _charge(city: CityContext, uow, farm: dict, start: datetime, end: datetime, wh: int) -> None:
    """The levy of one period, paid at once from the farm's tenge account if it can; otherwise owed
    (flag ``levy_unpaid``) until ``pay_levy`` or the grace runs out."""
    m = city.cfg.mining
    if wh <= 0:
        return
    rate = levy_rules.rate_for(farm["power_source"], m.levy_grid_tiyn_per_kwh, m.levy_offgrid_tiyn_per_kwh)
    amount = levy_rules.levy_minor(wh, rate)
    bank = city_state.require_customer(uow.conn, farm["id"]).bank_ledger_account_id
    paid = uow.balance(bank).available_minor >= amount
    levy_id = store.add_levy(uow.conn, farm["id"], start, end, wh, rate, amount, "paid" if paid else "unpaid",
                             end if paid else None)
    if paid:
        _pay(city, uow, farm["id"], bank, amount, levy_id)
    else:
        store.add_flag(uow.conn, "levy_unpaid", f"levy {levy_id} of {amount / 100:.2f} KZT for "
                       f"{start.date()}–{end.date()} unpaid: the tenge account cannot pay it", end, farm_id=farm["id"])
    audit.append(uow, m.regulator_id, "mining.levy_charged", farm["id"],
                 {"levy_id": levy_id, "wh": wh, "rate_tiyn_per_kwh": rate, "levy_minor": amount, "paid": paid,
                  "assessed": not farm["meter_working"]})
    events.emit(uow, "mining.levy_charged", {
        "object": "mining_levy", "levy_id": levy_id, "farm": farm["id"], "period_start": start.isoformat(),
        "period_end": end.isoformat(), "kwh": f"{wh / 1000:.3f}", "wh": wh, "power_source": farm["power_source"],
        "assessed_at_max_load": not farm["meter_working"], "rate_tiyn_per_kwh": rate, "levy_minor": amount,
        "currency": "KZT", "status": "paid" if paid else "unpaid"}, customer=farm["id"])


def _enforce_grace(city: CityContext, uow, now: datetime) -> None:
    """Suspend the licence of a farm whose levy is still unpaid ``levy_grace_days`` after its period."""
    grace = timedelta(days=city.cfg.mining.levy_grace_days)
    for row in store.levies(uow.conn, status="unpaid"):
        if row["suspended"] or row["period_end"] + grace > now:
            continue
        farm = store.farm(uow.conn, row["farm_id"])
        store.update_levy(uow.conn, row["id"], suspended=True)
        if farm["licence_id"]:
            reason = f"mining levy {row['id']} unpaid {city.cfg.mining.levy_grace_days} days after it was due"
            licences.suspend_licence(city, uow, licence_id=farm["licence_id"], reason=reason)
            store.add_flag(uow.conn, "licence_suspended", reason, now, farm_id=farm["id"])

"""``bench http``'s set-up, in the bench's own process before the server starts: the city on a fresh
database (the ``crypto-city`` preset with the bench's settings, see ``sandbox/bench/http.py``), a pool of
crypto-only cardholders, the merchants' and the operator's API keys; or, for ``--target transfers``, a pool
of funded KZT accounts. Afterwards: the approvals the database recorded."""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import click

from ledger import Database, Ledger, ManualClock, move
from sandbox.apikeys import create_key

POOL_ACCOUNTS = 32
PRESET = "crypto-city"
MAX_CUSTOMERS = 2_000
CARDHOLDER_PREFIX = "bench-"
AMOUNT_RANGE_MINOR = (600_00, 1_000_00)        # 600–1 000 KZT: more than a sale's leftover (< 1 lot, ~530 KZT)
SPEND_PER_CUSTOMER_MINOR = 400_000_00          # plan at most this per card and day (the limit is 510 000 KZT)
FUNDING_ASSETS = ("USDT", "BTC", "ETH")
DEPOSITS_MINOR = {"USDT": 2_400 * 10**6, "BTC": 25 * 10**5, "ETH": 10**9}   # each worth ~1.2M KZT
BENCH_LIMIT = 10_000                            # the configuration's maximum for the count rules
MM_SIZE_FACTOR = 10


def write_bench_config(folder: Path) -> Path:
    """The ``crypto-city`` preset with the bench's settings (module docstring), validated, as a YAML file."""
    import yaml

    from sandbox.config.loader import load_config, preset_path, read_yaml
    data = read_yaml(preset_path(PRESET))
    data["sandbox"]["name"] = f"{data['sandbox']['name']} — HTTP bench"
    data["card"]["daily_count_limit"] = BENCH_LIMIT
    data["aml"]["velocity_count"] = BENCH_LIMIT
    for mm in data.get("market_makers", []):
        mm["size"] = str(Decimal(str(mm["size"])) * MM_SIZE_FACTOR)
    path = folder / "bench-city.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    load_config(path)  # fails here, not in the server, if the preset changed shape
    return path


def holds_a_city(db_url: str) -> bool:
    from sqlalchemy import inspect

    from sandbox import city_state
    db = Database(db_url)
    try:
        with db.engine.connect() as conn:
            return inspect(conn).has_table("sandbox_city") and city_state.head(conn) is not None
    finally:
        db.dispose()


@dataclass
class CityPool:
    pans: list[str]
    merchant_tokens: dict[str, str]
    operator_token: str
    in_zone: list[str] = field(default_factory=list)


def prepare_city(db_url: str, config_path: Path, seed: int, customers: int) -> CityPool:
    """Build the city on ``db_url``, onboard ``customers`` crypto-only cardholders, mint the API keys."""
    from sandbox.city import CryptoCity
    from sandbox.config.loader import load_config
    city = CryptoCity.from_config(load_config(config_path), db=db_url, seed=seed)
    try:
        if not city.set_up_here:
            raise click.ClickException("the database already held a city: give the bench a fresh one")
        pans = []
        for i in range(customers):
            asset = FUNDING_ASSETS[i % len(FUNDING_ASSETS)]
            done = city.onboard(actor=f"{CARDHOLDER_PREFIX}{i:04d}", kyc_tier="full", resident=True,
                                deposits={asset: DEPOSITS_MINOR[asset]})
            pans.append(done["pan"])
        merchants = [m.id for m in city.cfg.merchants
                     if m.in_zone and m.licences and m.id not in city.cfg.aml.blocklists.merchants]
        with city.ledger.unit_of_work() as uow:
            tokens = {m: create_key(uow.conn, "merchant", m, now=uow.now(), label="bench http POS").token
                      for m in merchants}
            operator = create_key(uow.conn, "operator", None, now=uow.now(), label="bench http").token
            uow.commit()
        return CityPool(pans, tokens, operator, merchants)
    finally:
        city.close()


def prepare_transfers(db_url: str) -> tuple[list[int], str]:
    """``--target transfers``: a pool of funded KZT accounts and an operator key; return (account ids, key)."""
    db = Database(db_url)
    db.migrate()
    ledger = Ledger(db, ManualClock())
    with ledger.unit_of_work() as uow:
        world = uow.open_account("world", "KZT", "external")
        ids = []
        for i in range(POOL_ACCOUNTS):
            account = uow.open_account(f"bench:{i}", "KZT", "customer")
            if account.balance_minor == 0:
                uow.transfer(move(world.id, account.id, 10**12), memo="bench funding")
            ids.append(account.id)
        token = create_key(uow.conn, "operator", None, now=uow.now(), label="bench http").token
        uow.commit()
    db.dispose()
    return ids, token


def recorded_approvals(db_url: str) -> tuple[int, int]:
    """(approved authorizations of the bench's cardholders in the database, those that sold crypto)."""
    from card import authorizations
    ledger = Ledger(Database(db_url), ManualClock())
    try:
        with ledger.unit_of_work(read_only=True) as uow:
            return authorizations.approvals_of_cardholders(uow, CARDHOLDER_PREFIX)
    finally:
        ledger.db.dispose()

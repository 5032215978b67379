"""A funding leg written before its average price said its unit (decimal text, KZT per whole unit)
reads, after the migration, as ``avg_price_minor``: tiyn per whole unit, the same price."""
from alembic import command
from sqlalchemy import text

from ledger.db import Database, _alembic_config


def test_a_stored_average_price_becomes_tiyn_per_whole_unit(db_url):
    db = Database(db_url)
    cfg = _alembic_config(("ledger", "card"))
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "card_0003")
        conn.execute(text("INSERT INTO card_funding_legs (authorization_id, asset, sold_qty_minor, proceeds_minor, "
                          "avg_price, fee_minor, slippage_bps) VALUES (1, 'BTC', 19000, 1000000, '52947000.00', "
                          "1000, 3), (1, 'USDT', 2000000, 1000000, '500.07', 100, 0)"))
    db.migrate(("ledger", "card"))
    with db.engine.connect() as conn:
        rows = conn.execute(text("SELECT asset, avg_price_minor FROM card_funding_legs ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [("BTC", 52_947_000_00), ("USDT", 500_07)]
    db.dispose()

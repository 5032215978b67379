"""`cryptocity populate` end to end through the CLI: everything it prints exists as printed (merchants one
can pay at, names and IBANs as stored), customers have opening balances and a little history the reports
show, a second run adds more people without a traceback, the same seed on the same state prints the
same bytes, and the dashboard's pickers show the stored names."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from sandbox.city import CryptoCity
from sandbox.services import customers, merchants
from test_cli_bad_input import cli

SEED = 7


def populate(folder, *extra: str):
    result = cli(["populate", "--db", "city.db", *extra], folder)
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    assert "Traceback" not in result.stdout + result.stderr
    return result.stdout


def section(out: str, title: str) -> list[list[str]]:
    """The rows of a printed table (columns are separated by two spaces or more), without its header."""
    lines = out.split(f"\n{title}\n", 1)[1].split("\n\n", 1)[0].splitlines()
    return [re.split(r"\s{2,}", line.strip()) for line in lines[1:] if not line.startswith("...")]


def printed_customers(out: str) -> list[list[str]]:
    return section(out, "customers onboarded, with their balances now")


def printed_merchants(out: str) -> list[list[str]]:
    return section(out, "merchants registered")


def open_city(folder) -> CryptoCity:
    return CryptoCity.from_config("crypto-city", db=f"sqlite:///{folder / 'city.db'}", seed=SEED)


@pytest.fixture(scope="module")
def populated(tmp_path_factory):
    """A city populated once with the defaults (20 customers, 5 merchants): (folder, what it printed)."""
    folder = tmp_path_factory.mktemp("populated")
    return folder, populate(folder)


@pytest.fixture
def city_copy(populated, tmp_path):
    """A CryptoCity on a copy of the populated city (tests that move money change only their copy)."""
    import shutil
    folder, out = populated
    for suffix in ("", "-wal"):   # a closed city may leave its WAL unmerged: copy it along
        if (folder / f"city.db{suffix}").exists():
            shutil.copyfile(folder / f"city.db{suffix}", tmp_path / f"city.db{suffix}")
    city = open_city(tmp_path)
    yield city, out
    city.close()


def test_printed_names_and_ibans_are_the_stored_ones(populated):
    folder, out = populated
    people, shops = printed_customers(out), printed_merchants(out)
    assert len(people) == 20 and len(shops) == 5
    city = open_city(folder)
    try:
        for actor, name, iban, kyc, *_ in people:
            stored = city.read(lambda ctx, uow, a=actor: customers.customer(uow, a))
            assert (stored.full_name, stored.iban, stored.kyc_tier) == (name, iban, kyc)
        for merchant_id, name, mcc, _kind, in_zone in shops:
            stored = city.read(merchants.merchant, merchant_id)
            assert (stored.name, stored.mcc, stored.in_zone) == (name, mcc, in_zone == "yes")
    finally:
        city.close()


def test_a_populated_customer_can_pay_at_every_printed_merchant(city_copy):
    city, out = city_copy
    payer = next(actor for actor, _n, _i, kyc, *_ in printed_customers(out)
                 if kyc == "full" and city.balances(actor)["KZT"] >= 20_000_00)
    for merchant_id, name, *_ in printed_merchants(out):
        city.advance(timedelta(minutes=11))   # one purchase per AML velocity window
        result = city.pay(actor=payer, merchant=merchant_id, amount_minor=1_000_00, ref=f"test-{merchant_id}")
        assert (result.status, result.response_code) == ("approved", "00"), (name, result.reason)
        city.capture(ref=f"test-{merchant_id}")
    city.verify()


def test_customers_have_opening_balances_and_their_history_shows_in_the_reports(city_copy, populated):
    city, out = city_copy
    for actor, *_ in printed_customers(out):
        held = city.balances(actor)
        assert held["KZT"] > 0, actor                                     # tenge in the bank account
        assert any(held.get(asset, 0) > 0 for asset in ("BTC", "ETH", "USDT")), actor   # crypto in custody
    summary = city.regulator_summary()
    assert summary["card"]["approved"] > 0 and summary["card"]["captured_minor"] > 0
    assert summary["card"]["crypto_funded_minor"] > 0       # some purchases sold crypto just in time
    assert sum(row["trades"] for row in summary["exchange"]) > 0
    assert summary["invariants"]["verified"]
    history = re.search(r"history: (\d+) deposits, (\d+) trades, (\d+) card purchases approved", out)
    assert history and all(int(n) > 0 for n in history.groups())
    report = cli(["report", "--db", "city.db", "--format", "json"], populated[0])
    assert report.exit_code == 0 and '"approved": 0,' not in report.stdout


def test_a_second_run_adds_more_people_and_keeps_the_first(tmp_path):
    first = populate(tmp_path, "--customers", "4", "--merchants", "2")
    second = populate(tmp_path, "--customers", "3", "--merchants", "2")
    assert [row[0] for row in printed_customers(first)] == ["cust-00001", "cust-00002", "cust-00003", "cust-00004"]
    assert [row[0] for row in printed_customers(second)] == ["cust-00005", "cust-00006", "cust-00007"]
    assert [row[0] for row in printed_merchants(second)] == ["merch-0003", "merch-0004"]
    assert "the city now has 7 customers" in second
    city = open_city(tmp_path)
    try:
        for actor, name, iban, *_ in printed_customers(first) + printed_customers(second):
            stored = city.read(lambda ctx, uow, a=actor: customers.customer(uow, a))
            assert (stored.full_name, stored.iban) == (name, iban)
        city.verify()
    finally:
        city.close()
    audit = cli(["audit", "verify", "--db", "city.db"], tmp_path)
    assert audit.exit_code == 0, audit.stdout


def test_same_seed_and_same_state_print_the_same_bytes(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    args = ("--customers", "5", "--merchants", "2")
    assert populate(a, *args) == populate(b, *args)
    assert populate(a, *args) == populate(b, *args)    # the second run too: same seed, same prior state
    other = tmp_path / "other"
    other.mkdir()
    assert populate(other, *args, "--seed", "8") != populate(tmp_path / "a", *args)


def test_a_city_that_would_pass_its_customer_limit_is_refused_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr("sandbox.context.MAX_ACTORS", 6)
    populate(tmp_path, "--customers", "4", "--merchants", "1")
    result = cli(["populate", "--db", "city.db", "--customers", "4", "--merchants", "1"], tmp_path)
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "too_many_actors" in lines[0] and "Traceback" not in result.stdout
    city = open_city(tmp_path)
    try:
        assert city.read(lambda ctx, uow: len(customers.customers(uow))) == 4   # nothing changed
    finally:
        city.close()


def test_the_dashboard_pickers_show_customers_by_their_stored_name(city_copy):
    from sandbox.web import create_app
    city, out = city_copy
    actor = printed_customers(out)[0][0]
    stored = city.read(lambda ctx, uow: customers.customer(uow, actor)).full_name
    client = create_app(city, {"TESTING": True, "OPEN_DASHBOARD": True}).test_client()
    for page in ("/pos", f"/wallet?customer={actor}"):
        html = client.get(page).get_data(as_text=True)
        assert re.search(rf'<option value="{actor}"[^>]*>{re.escape(stored)} \({actor}\) · ', html), page

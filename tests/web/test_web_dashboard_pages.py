"""The dashboard's city pages through Flask's test client: POS, wallet & card, order book, regulator and
the overview on a CryptoCity; who may see and do what; CSRF; bad input changing nothing.

One city is built per session on a SQLite file (with API keys per role); a test that changes state
reopens a copy of that file, so every test starts from the same city in well under a second.
"""
from __future__ import annotations

import csv
import html
import io
import json
import re
import shutil
import zipfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from ledger import format_amount
from sandbox.apikeys import create_key
from sandbox.city import CryptoCity
from sandbox.web import create_app
from sandbox.web.dashboard import city_data

SEED = 7
CARD_BTC = 1_000_000  # 0.01 BTC


@dataclass
class Template:
    path: object
    keys: dict[str, str]


@pytest.fixture(scope="session")
def city_file(tmp_path_factory) -> Template:
    path = tmp_path_factory.mktemp("dashboard-city") / "city.db"
    city = CryptoCity.from_config("crypto-city", db=f"sqlite:///{path}", seed=SEED)
    city.onboard(actor="aigerim", kyc_tier="full", deposits={"BTC": CARD_BTC})
    city.onboard(actor="dana", kyc_tier="basic", deposits={"KZT": 20_000_00})
    with city.ledger.unit_of_work() as uow:
        keys = {name: create_key(uow.conn, role, subject, now=uow.now()).token for name, role, subject in (
            ("operator", "operator", None), ("regulator", "regulator", None), ("aigerim", "customer", "aigerim"),
            ("dana", "customer", "dana"), ("coffee", "merchant", "alatau-coffee"))}
        uow.commit()
    city.close()
    return Template(path, keys)


def _open(template: Template, tmp_path) -> CryptoCity:
    path = tmp_path / "city.db"
    for suffix in ("", "-wal"):  # a city's close() may leave the WAL unmerged: copy it along
        if Path(f"{template.path}{suffix}").exists():
            shutil.copyfile(f"{template.path}{suffix}", f"{path}{suffix}")
    return CryptoCity.from_config("crypto-city", db=f"sqlite:///{path}", seed=SEED)


@pytest.fixture
def crypto_city(city_file, tmp_path):
    city = _open(city_file, tmp_path)
    yield city
    city.close()


@pytest.fixture(scope="module")
def shared_city(city_file, tmp_path_factory):
    """For tests that only read: one reopened copy per module."""
    city = _open(city_file, tmp_path_factory.mktemp("dashboard-read"))
    yield city
    city.close()


def open_client(city):
    return create_app(city, {"TESTING": True, "OPEN_DASHBOARD": True}).test_client()


def key_client(city, token: str):
    """A closed dashboard signed in with ``token`` through the login form (session cookie)."""
    client = create_app(city, {"TESTING": True, "OPEN_DASHBOARD": False}).test_client()
    login = client.get("/login").get_data(as_text=True)
    assert client.post("/login", data={"api_key": token, "csrf": field(login, "csrf")}).status_code == 302
    return client


def field(html: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]*)"', html).group(1)


def text_of(html: str, element_id: str) -> str:
    match = re.search(rf'id="{re.escape(element_id)}"[^>]*>(.*?)</', html, re.S)
    assert match, f"no element #{element_id}"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", match.group(1))).strip()


def pay(client, customer="aigerim", merchant="alatau-coffee", amount="1500.00", ref=None, csrf=None):
    form = client.get("/pos").get_data(as_text=True)
    data = {"customer": customer, "merchant": merchant, "amount": amount,
            "ref": ref or field(form, "ref"), "csrf": field(form, "csrf") if csrf is None else csrf}
    return client.post("/pos", data=data), data


def purchases(city, actor="aigerim") -> list[dict]:
    return city.cards.customer_statement(actor)


# ------------------------------------------------------------------ pages render

def test_every_city_page_renders_for_the_open_operator(shared_city):
    client = open_client(shared_city)
    overview = client.get("/").get_data(as_text=True)
    for marker in ('id="city-facts"', 'id="participants"', 'id="audit"', "Astana Digital Exchange",
                   "city.created"):
        assert marker in overview
    assert text_of(overview, "count-customers") == "2"
    pos = client.get("/pos").get_data(as_text=True)
    assert 'value="aigerim"' in pos and "400000******" in pos and "MCC 5814" in pos and "in the zone" in pos
    assert "Almaty Books" in pos and "outside the zone" in pos
    wallet = client.get("/wallet?customer=aigerim").get_data(as_text=True)
    assert text_of(wallet, "available-customer-BTC") == format_amount(CARD_BTC, "BTC")
    assert text_of(wallet, "card-status") == "active" and "******" in text_of(wallet, "card-pan")
    assert "1. KZTE" in wallet and 'id="statement"' in wallet and "No purchases yet" in wallet
    book = client.get("/orderbook?symbol=ETH/KZT").get_data(as_text=True)
    assert "Order book ETH/KZT" in book and 'id="bids"' in book and 'id="asks"' in book and "<svg" in book
    assert 'id="best-bid"' in book and "No trades in this window yet" in book
    regulator = client.get("/regulator").get_data(as_text=True)
    for marker in ("AFSA-TF-001", "Astana Financial Services Authority", "trading_facility", 'id="kzte-reserve"',
                   "attested when the KZTE token is live", 'id="aml-flags"', 'id="decline-table"'):
        assert marker in regulator
    assert not shared_city.issuer_started  # rendering did not deploy the KZTE token
    assert client.get("/orderbook?symbol=NOPE/KZT").status_code == 404
    assert client.get("/orderbook?interval=7m").status_code == 400
    assert client.get("/wallet?customer=nobody").status_code == 404


def test_report_downloads_in_every_format(shared_city):
    client = open_client(shared_city)
    as_json = client.get("/regulator/report.json")
    assert as_json.status_code == 200 and as_json.mimetype == "application/json"
    assert "attachment" in as_json.headers["Content-Disposition"]
    assert json.loads(as_json.data)["city"] == shared_city.cfg.sandbox.name
    rows = list(csv.reader(io.StringIO(client.get("/regulator/report.csv").get_data(as_text=True))))
    assert rows[0] == ["key", "value"] and any(r[0] == "card.authorizations" for r in rows)
    page = client.get("/regulator/report.html").get_data(as_text=True)
    assert "Regulator report" in page and 'id="chart-kzte"' in page and "None" not in page
    tables = client.get("/regulator/report.csv-zip")
    assert tables.mimetype == "application/zip" and '.zip"' in tables.headers["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(tables.data)) as archive:
        assert "regulator-report/declines.csv" in archive.namelist()
    pdf = client.get("/regulator/report.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert client.get("/regulator/report.xml").status_code == 404


def test_a_bare_ledger_app_explains_how_to_start_a_city(city):
    client = create_app(city.ledger, {"TESTING": True, "OPEN_DASHBOARD": True}).test_client()
    for path in ("/pos", "/wallet", "/orderbook", "/regulator", "/regulator/report.json"):
        page = client.get(path)
        assert page.status_code == 200 and b"cryptocity serve --config crypto-city" in page.data, path
    assert b'id="city-facts"' not in client.get("/").data


def test_the_reserve_account_codes_match_the_stablecoin_package():
    from sandbox.web.dashboard import regulator
    from stablecoin.issuer import ISSUANCE_CODE, RESERVE_CODE
    assert (regulator.RESERVE_CODE, regulator.ISSUANCE_CODE) == (RESERVE_CODE, ISSUANCE_CODE)


# ------------------------------------------------------------------ POS

def test_pay_shows_the_authorization_the_crypto_sold_and_the_balances_moving(crypto_city):
    client = open_client(crypto_city)
    before = crypto_city.balances("aigerim")
    response, form = pay(client)
    assert response.status_code == 303 and f"ref={form['ref']}" in response.headers["Location"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    after = crypto_city.balances("aigerim")
    assert text_of(page, "auth-status") == "APPROVED" and text_of(page, "response-code") == "00"
    assert re.fullmatch(r"\d{6}", text_of(page, "auth-code"))
    sold = before["BTC"] - after["BTC"]
    assert sold > 0 and text_of(page, "sold-BTC") == format_amount(sold, "BTC")
    assert text_of(page, "before-BTC") == format_amount(before["BTC"], "BTC")
    assert text_of(page, "balance-BTC") == format_amount(after["BTC"], "BTC")
    assert text_of(page, "balance-KZT") == format_amount(after["KZT"], "KZT")
    assert text_of(page, "change-BTC") == format_amount(-sold, "BTC")
    assert text_of(page, "conversion-fee") == format_amount(1_500, "KZT")  # 1% of the crypto-funded 1 500 KZT
    assert text_of(page, "purchase-status").startswith("approved")
    assert 'id="capture"' in page and 'id="reverse"' in page and 'id="refund"' not in page

    again = client.post("/pos", data=form)  # the same form submitted twice pays once
    assert again.status_code == 303
    assert len(purchases(crypto_city)) == 1 and crypto_city.balances("aigerim") == after
    replay = client.get(again.headers["Location"]).get_data(as_text=True)
    assert text_of(replay, "before-BTC") == format_amount(before["BTC"], "BTC")
    crypto_city.verify()


def test_capture_then_refund_from_the_terminal(crypto_city):
    client = open_client(crypto_city)
    response, form = pay(client, amount="2 000")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    op = field(page, "op")
    captured = client.post("/pos/clearing", data={"csrf": form["csrf"], "ref": form["ref"], "action": "capture",
                                                  "op": op},
                           follow_redirects=True).get_data(as_text=True)
    assert "Captured 2 000.00 KZT" in captured and text_of(captured, "purchase-status").startswith("captured")
    assert 'id="refund"' in captured and 'id="capture"' not in captured
    assert purchases(crypto_city)[0]["status"] == "captured"
    reverse = client.post("/pos/clearing", data={"csrf": form["csrf"], "ref": form["ref"], "action": "reverse",
                                                 "op": op},
                          follow_redirects=True).get_data(as_text=True)
    assert "Reverse refused" in reverse  # a captured purchase cannot be voided: a message, no traceback
    assert purchases(crypto_city)[0]["status"] == "captured" and 'id="auth-status"' in page
    crypto_city.verify()


def test_a_decline_is_shown_with_its_code_and_sells_nothing(crypto_city):
    client = open_client(crypto_city)
    before = crypto_city.balances("dana")
    response, _ = pay(client, customer="dana", amount="60 000")  # above the basic tier's 50 000 KZT per purchase
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert text_of(page, "auth-status") == "DECLINED" and text_of(page, "response-code") != "00"
    assert 'id="nothing-sold"' in page and 'id="capture"' not in page
    assert html.unescape(text_of(page, "auth-reason")) == \
        "60 000.00 KZT is above the KYC 'basic' limit of 50 000.00 KZT per purchase"
    assert crypto_city.balances("dana") == before
    pay(client, customer="dana", amount="70 000")
    regulator = client.get("/regulator").get_data(as_text=True)  # one row for the rule, with the declines' total
    table = re.search(r'id="decline-table".*?</table>', regulator, re.S).group(0)
    assert table.count("<tr>") == 2 and "{amount} is above the KYC 'basic' limit of {limit}" in html.unescape(table)
    assert ">2</td>" in table and "130 000.00 KZT" in table


@pytest.mark.parametrize("amount, message", [
    ("", "Enter an amount"), ("abc", "cannot be read"), ("-5", "cannot be read"), ("0", "above zero"),
    ("12.3456", "cannot be read"), ("1e3", "cannot be read"), ("99999999999999999999", "larger than any card"),
    ("15 USD", "cannot be read"), ("15,00.5", "not a group of three digits"), ("0,500", "more decimals than KZT has (2)")])
def test_a_bad_amount_shows_a_clear_error_and_changes_nothing(crypto_city, amount, message):
    client = open_client(crypto_city)
    before = crypto_city.balances("aigerim")
    response, _ = pay(client, amount=amount)
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and message in text_of(page, "pay-error")
    assert crypto_city.balances("aigerim") == before and purchases(crypto_city) == []


@pytest.mark.parametrize("typed", ["1 500,00", "1\u00a0500,00", "1.500,00", "1,500.00", "1,500", "1500"])
def test_the_terminal_charges_tenge_as_people_write_them(crypto_city, typed):
    # Every comma used to be dropped: "1 500,00" charged 150 000.00 KZT.
    client = open_client(crypto_city)
    response, _ = pay(client, amount=typed)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert text_of(page, "auth-status") == "APPROVED" and text_of(page, "auth-amount") == "1 500.00 KZT"
    assert [p["amount_minor"] for p in purchases(crypto_city)] == [150_000]
    crypto_city.verify()


def test_amounts_are_read_as_exact_tenge(shared_city):
    from sandbox.web.dashboard.pos import parse_tenge
    with create_app(shared_city, {"TESTING": True}).app_context():
        assert parse_tenge("1500.00") == 150_000
        assert parse_tenge("1 500.50") == 150_050  # grouping spaces are fine
        assert parse_tenge("0.01 kzt") == 1 and parse_tenge("2500 ₸") == 250_000 and parse_tenge("0.1") == 10


def test_unknown_choices_are_refused_on_the_form(crypto_city):
    client = open_client(crypto_city)
    for customer, merchant in (("ghost", "alatau-coffee"), ("aigerim", "no-such-shop")):
        response, _ = pay(client, customer=customer, merchant=merchant)
        assert response.status_code == 422 and "Choose" in response.get_data(as_text=True)
    assert purchases(crypto_city) == []


# ------------------------------------------------------------------ CSRF and roles

def test_forms_without_the_csrf_token_are_refused(crypto_city):
    client = open_client(crypto_city)
    response, form = pay(client, csrf="")
    assert response.status_code == 400 and purchases(crypto_city) == []
    assert client.post("/pos", data={**form, "csrf": "forged"}).status_code == 400
    assert client.post("/regulator/licences", data={"licence_id": "AFSA-TF-001", "action": "suspend"}).status_code == 400
    assert client.post("/pos/clearing", data={"ref": form["ref"], "action": "capture"}).status_code == 400
    assert crypto_city.licences.get("AFSA-TF-001").status(crypto_city.now()) == "active"


def test_a_customer_key_sees_and_pays_only_with_its_own_card(crypto_city, city_file):
    client = key_client(crypto_city, city_file.keys["aigerim"])
    own = client.get("/wallet").get_data(as_text=True)
    assert text_of(own, "wallet-of") == "aigerim"
    other = client.get("/wallet?customer=dana")
    assert other.status_code == 404 and b"wallet-balances" not in other.data
    pos = client.get("/pos").get_data(as_text=True)
    assert 'value="aigerim"' in pos and 'value="dana"' not in pos
    response, _ = pay(client, customer="dana")
    assert response.status_code == 403 and purchases(crypto_city, "dana") == []
    response, form = pay(client)
    assert response.status_code == 303 and len(purchases(crypto_city)) == 1
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'id="capture"' not in page  # clearing is the merchant's (or the operator's) business
    assert client.post("/pos/clearing", data={"csrf": form["csrf"], "ref": form["ref"],
                                              "action": "capture"}).status_code == 403
    assert client.get("/regulator").status_code == 403
    assert client.get("/regulator/report.json").status_code == 403
    assert client.get("/orderbook").status_code == 200
    overview = client.get("/").get_data(as_text=True)
    assert 'id="city-facts"' not in overview and "dana" not in overview


def test_a_merchant_key_clears_only_its_own_purchases(crypto_city, city_file):
    operator = open_client(crypto_city)
    coffee_ref = pay(operator)[1]["ref"]
    market_ref = pay(operator, merchant="zone-market")[1]["ref"]
    client = key_client(crypto_city, city_file.keys["coffee"])
    terminal = client.get("/pos")   # the shop's own terminal: its purchases, no pay form
    assert terminal.status_code == 200
    shown = terminal.get_data(as_text=True)
    assert f'data-ref="{coffee_ref}"' in shown and market_ref not in shown and 'id="pay-form"' not in shown
    assert client.get("/wallet?customer=aigerim").status_code == 403
    csrf = field(client.get("/orderbook").get_data(as_text=True), "csrf")  # from the sign-out form
    for ref, status in ((market_ref, 403), (coffee_ref, 303)):
        data = {"csrf": csrf, "ref": ref, "action": "capture", "op": "m-1"}
        assert client.post("/pos/clearing", data=data).status_code == status
    statuses = {p["merchant_id"]: p["status"] for p in purchases(crypto_city)}
    assert statuses == {"alatau-coffee": "captured", "zone-market": "approved"}
    crypto_city.verify()


def test_the_regulator_reads_every_wallet_suspends_licences_and_cannot_pay(crypto_city, city_file):
    client = key_client(crypto_city, city_file.keys["regulator"])
    assert text_of(client.get("/wallet?customer=dana").get_data(as_text=True), "wallet-of") == "dana"
    response, _ = pay(client)
    assert response.status_code == 403 and purchases(crypto_city) == []
    page = client.get("/regulator").get_data(as_text=True)
    done = client.post("/regulator/licences", data={"csrf": field(page, "csrf"), "licence_id": "AFSA-TF-001",
                                                    "action": "suspend", "reason": "audit findings"},
                       follow_redirects=True).get_data(as_text=True)
    assert "Licence AFSA-TF-001 is now suspended" in done and text_of(done, "state-AFSA-TF-001") == "suspended"
    assert "audit findings" in done and 'id="reinstate-AFSA-TF-001"' in done


def test_suspending_the_exchange_declines_crypto_funded_purchases_until_reinstated(crypto_city):
    client = open_client(crypto_city)
    csrf = field(client.get("/regulator").get_data(as_text=True), "csrf")
    client.post("/regulator/licences", data={"csrf": csrf, "licence_id": "AFSA-TF-001", "action": "suspend"})
    response, _ = pay(client)
    declined = client.get(response.headers["Location"]).get_data(as_text=True)
    assert text_of(declined, "auth-status") == "DECLINED"
    unknown = client.post("/regulator/licences", data={"csrf": csrf, "licence_id": "NOPE", "action": "suspend"},
                          follow_redirects=True).get_data(as_text=True)
    assert "Suspend refused" in unknown
    client.post("/regulator/licences", data={"csrf": csrf, "licence_id": "AFSA-TF-001", "action": "reinstate"})
    response, _ = pay(client)
    approved = client.get(response.headers["Location"]).get_data(as_text=True)
    assert text_of(approved, "auth-status") == "APPROVED"
    regulator = client.get("/regulator").get_data(as_text=True)
    assert text_of(regulator, "state-AFSA-TF-001") == "active" and 'id="decline-table"' in regulator
    crypto_city.verify()


# ------------------------------------------------------------------ chart

def test_the_price_chart_is_deterministic_inline_svg():
    from datetime import datetime, timedelta, timezone

    from sandbox.charts.svg import candles_svg
    start = datetime(2025, 6, 1, 9, tzinfo=timezone.utc)
    candles = [{"start": start + timedelta(hours=i), "open": 100 + i, "high": 110 + i, "low": 95 + i,
                "close": 104 + i - 3 * (i % 2), "volume_minor": 10 + i} for i in range(6)]
    draw = lambda cs: candles_svg(cs, price_label=str, volume_label=str, time_label=lambda t: t.strftime("%H:%M"),  # noqa: E731
                                  title="BTC/KZT 1h candles", base="BTC")
    svg = draw(candles)
    assert svg == draw(candles) and svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count('class="box"') == 6 and "<script" not in svg and "http" not in svg.replace(
        'xmlns="http://www.w3.org/2000/svg"', "").replace('xmlns:xlink="http://www.w3.org/1999/xlink"', "")
    assert "No trades in this window yet" in draw([]) and draw([candles[0]]).count('class="box"') == 1


# ------------------------------------------------------------------ onboarding from the dashboard

def test_the_operator_onboards_and_tops_up_a_customer_with_clicks(crypto_city):
    client = open_client(crypto_city)
    csrf = field(client.get("/pos").get_data(as_text=True), "csrf")
    page = client.post("/customers", data={"csrf": csrf, "actor": "yerlan", "kyc_tier": "full",
                                           "deposit_BTC": "0.005", "deposit_KZT": "1 000.50", "back": "/pos"},
                       follow_redirects=True).get_data(as_text=True)
    assert "Onboarded yerlan (KYC full)" in page and 'value="yerlan"' in page  # now in the card picker
    balances = crypto_city.balances("yerlan")
    assert (balances["KZT"], balances["BTC"]) == (100_050, 500_000)
    refused = client.post("/customers", data={"csrf": csrf, "actor": "zhan", "deposit_BTC": "0.000000001"},
                          follow_redirects=True).get_data(as_text=True)
    assert "Not onboarded" in refused and "more decimals" in refused
    assert 'value="zhan"' not in client.get("/pos").get_data(as_text=True)  # a refusal onboards nobody
    topped = client.post("/customers/faucet", data={"csrf": csrf, "actor": "yerlan", "faucet_USDT": "25",
                                                    "back": "/wallet?customer=yerlan"},
                         follow_redirects=True).get_data(as_text=True)
    assert "Topped up yerlan: 25.000000 USDT" in topped and 'id="wallet-of"' in topped
    assert crypto_city.balances("yerlan")["USDT"] == 25_000_000
    ghost = client.post("/customers/faucet", data={"csrf": csrf, "actor": "ghost", "faucet_KZT": "5"},
                        follow_redirects=True).get_data(as_text=True)
    assert "No top-up" in ghost
    crypto_city.verify()


@pytest.mark.parametrize("who", ["aigerim", "regulator", "coffee"])
def test_only_the_operator_creates_customers_and_money(crypto_city, city_file, who):
    client = key_client(crypto_city, city_file.keys[who])
    csrf = field(client.get("/orderbook").get_data(as_text=True), "csrf")
    assert client.post("/customers", data={"csrf": csrf, "actor": "mallory"}).status_code == 403
    assert client.post("/customers/faucet", data={"csrf": csrf, "actor": who, "faucet_KZT": "1"}).status_code == 403
    assert "mallory" not in {c.actor for c in city_data.customers(crypto_city)}


# ------------------------------------------------------------------ the clock

def test_the_operator_advances_the_clock_once_per_form_and_holds_expire(crypto_city):
    client = open_client(crypto_city)
    pay(client, amount="1 500")  # an uncaptured purchase: its hold expires after the configured days
    overview = client.get("/").get_data(as_text=True)
    before = crypto_city.now()
    data = {"csrf": field(overview, "csrf"), "ref": field(overview, "ref"), "by": "1d"}
    page = client.post("/clock", data=data, follow_redirects=True).get_data(as_text=True)
    assert crypto_city.now() == before + timedelta(days=1) and "Sandbox time moved on a day" in page
    client.post("/clock", data=data)  # the same form again (a double click): no second day
    assert crypto_city.now() == before + timedelta(days=1)
    assert crypto_city.cfg.card.hold_expiry_days <= 8  # a day and a week later, the hold has expired
    fresh = client.get("/").get_data(as_text=True)
    page = client.post("/clock", data={"csrf": field(fresh, "csrf"), "ref": field(fresh, "ref"), "by": "7d"},
                       follow_redirects=True).get_data(as_text=True)
    assert purchases(crypto_city)[0]["status"] == "expired" and "card hold(s) expired" in page
    assert client.post("/clock", data={**data, "by": "1y"}).status_code == 400
    crypto_city.verify()


@pytest.mark.parametrize("who", ["aigerim", "regulator", "coffee"])
def test_only_the_operator_moves_the_clock(crypto_city, city_file, who):
    client = key_client(crypto_city, city_file.keys[who])
    overview = client.get("/").get_data(as_text=True)
    assert 'id="clock-form"' not in overview
    before = crypto_city.now()
    csrf = field(client.get("/orderbook").get_data(as_text=True), "csrf")
    assert client.post("/clock", data={"csrf": csrf, "ref": "r-1", "by": "1d"}).status_code == 403
    assert crypto_city.now() == before


def test_partial_capture_then_refunds_in_parts_each_once_per_form(crypto_city):
    client = open_client(crypto_city)
    response, form = pay(client, amount="3 000")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    capture = {"csrf": form["csrf"], "ref": form["ref"], "action": "capture", "op": field(page, "op"),
               "amount": "2 500"}
    done = client.post("/pos/clearing", data=capture, follow_redirects=True).get_data(as_text=True)
    assert "Captured 2 500.00 KZT" in done
    [bought] = purchases(crypto_city)
    assert bought["status"] == "captured" and bought["captured_minor"] == 2_500_00
    assert bought["reversed_minor"] == 500_00  # the rest of the hold was released
    refund = {"csrf": form["csrf"], "ref": form["ref"], "action": "refund", "op": field(done, "op"), "amount": "1000"}
    assert "Refunded 1 000.00 KZT" in client.post("/pos/clearing", data=refund,
                                                  follow_redirects=True).get_data(as_text=True)
    client.post("/pos/clearing", data=refund)  # the same form again (a double click): refunds once
    assert purchases(crypto_city)[0]["refunded_minor"] == 1_000_00
    page = client.get(f"/pos?ref={form['ref']}").get_data(as_text=True)
    rest = {**refund, "op": field(page, "op"), "amount": ""}  # a new form, no amount: all that is left
    client.post("/pos/clearing", data=rest)
    after = purchases(crypto_city)[0]
    assert after["status"] == "refunded" and after["refunded_minor"] == 2_500_00
    too_much = client.post("/pos/clearing", data={**rest, "op": "x-2", "amount": "1"},
                           follow_redirects=True).get_data(as_text=True)
    assert "Refund refused" in too_much and purchases(crypto_city)[0]["refunded_minor"] == 2_500_00
    assert "Refund refused" in client.post("/pos/clearing", data={**rest, "op": "x-3", "amount": "abc"},
                                           follow_redirects=True).get_data(as_text=True)
    crypto_city.verify()


def test_an_online_purchase_at_the_terminal_checks_the_expiry_and_the_cvv2(crypto_city):
    from sandbox.services import customers
    client = open_client(crypto_city)
    card_id = crypto_city.ctx.read(lambda uow: customers.customer(uow, "aigerim")).card_id
    card = crypto_city.reveal_card(card_id=card_id)
    wrong = f"{(int(card.cvv) + 1) % 1000:03d}"
    form = client.get("/pos").get_data(as_text=True)
    assert 'name="channel"' in form and 'name="cvv"' in form and 'name="expiry"' in form
    declined, _ = pay_online(client, expiry=card.expiry, cvv=wrong)
    page = client.get(declined.headers["Location"]).get_data(as_text=True)
    assert text_of(page, "response-code") == "N7" and f'value="{wrong}"' not in page
    approved, _ = pay_online(client, expiry=card.expiry, cvv=card.cvv)
    page = client.get(approved.headers["Location"]).get_data(as_text=True)
    assert text_of(page, "response-code") == "00" and f'value="{card.cvv}"' not in page   # never echoed
    missing, _ = pay_online(client, expiry=card.expiry, cvv="")
    assert missing.status_code == 422 and "CVV2" in missing.get_data(as_text=True)
    assert [p["response_code"] for p in purchases(crypto_city)] == ["N7", "00"]
    crypto_city.verify()


def pay_online(client, *, expiry: str, cvv: str):
    form = client.get("/pos").get_data(as_text=True)
    data = {"customer": "aigerim", "merchant": "alatau-coffee", "amount": "1500.00", "ref": field(form, "ref"),
            "csrf": field(form, "csrf"), "channel": "card_not_present", "expiry": expiry, "cvv": cvv}
    return client.post("/pos", data=data), data

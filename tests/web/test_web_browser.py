"""End to end in a real browser: headless Chromium opens the dashboard served by a real
HTTP server on 127.0.0.1, reads a balance from the page, and makes a card purchase at the
POS terminal of a CryptoCity, reading the approval, the BTC sold and the new balance.

Skips (saying why) when Chromium is missing outside CI; under CI=true a missing browser is
a failure — .ci/setup-browser installs it there.
"""
from __future__ import annotations

import os
import shutil

import pytest

from ledger import format_amount
from sandbox.web import create_app
from browser_support import headless_chromium
from web_support import serve

CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

pytestmark = pytest.mark.slow


@pytest.fixture
def browser():
    with headless_chromium() as driver:
        yield driver


@pytest.fixture
def live_server(city):
    yield from serve(create_app(city.ledger, {"OPEN_DASHBOARD": True}))


def test_dashboard_shows_a_balance_in_a_real_browser(browser, live_server, city):
    from selenium.webdriver.common.by import By

    browser.get(live_server + "/")
    assert "Crypto City" in browser.title
    row = browser.find_element(By.ID, f"account-{city.alice}")
    assert "customer:cust:1:KZT" in row.text
    expected = format_amount(500_000_00 - 4_500_00, "KZT")
    assert row.find_element(By.CSS_SELECTOR, ".balance").text == expected

    submit_and_wait(browser, row.find_element(By.LINK_TEXT, "customer:cust:1:KZT"))
    assert browser.find_element(By.ID, "balance").text == expected
    entries = browser.find_element(By.ID, "entries").text
    assert "salary" in entries and "coffee" in entries

    submit_and_wait(browser, browser.find_element(By.LINK_TEXT, "POS terminal"))  # a bare ledger: the page says how to get a city
    assert "cryptocity serve --config crypto-city" in browser.find_element(By.ID, "needs-city").text


def submit_and_wait(browser, element, timeout: float = 20) -> None:
    """Click and wait until the browser has left the page (else we could read the old page's elements)."""
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    element.click()
    WebDriverWait(browser, timeout).until(EC.staleness_of(element))
    WebDriverWait(browser, timeout).until(lambda b: b.execute_script("return document.readyState") == "complete")


@pytest.fixture
def crypto_city(tmp_path):
    from sandbox.city import CryptoCity
    city = CryptoCity.from_config("crypto-city", db=f"sqlite:///{tmp_path / 'city.db'}", seed=7)
    city.onboard(actor="aigerim", kyc_tier="full", deposits={"BTC": 1_000_000})
    yield city
    city.close()


@pytest.fixture
def city_server(crypto_city):
    yield from serve(create_app(crypto_city, {"OPEN_DASHBOARD": True}))


def test_a_purchase_at_the_pos_terminal_in_a_real_browser(browser, city_server, crypto_city):
    """The newcomer's path: POS terminal -> card, merchant, amount -> Pay -> approved, BTC sold, new balance."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    before = crypto_city.balances("aigerim")
    browser.get(city_server + "/")
    submit_and_wait(browser, browser.find_element(By.LINK_TEXT, "POS terminal"))
    Select(browser.find_element(By.ID, "customer")).select_by_value("aigerim")
    Select(browser.find_element(By.ID, "merchant")).select_by_value("alatau-coffee")
    browser.find_element(By.ID, "amount").send_keys("1500.00")
    submit_and_wait(browser, browser.find_element(By.ID, "pay"))

    assert browser.find_element(By.ID, "auth-status").text == "APPROVED"
    assert browser.find_element(By.ID, "response-code").text == "00"
    after = crypto_city.balances("aigerim")
    sold = before["BTC"] - after["BTC"]
    assert sold > 0
    assert browser.find_element(By.ID, "sold-BTC").text == format_amount(sold, "BTC")
    assert browser.find_element(By.ID, "balance-BTC").text == format_amount(after["BTC"], "BTC")
    assert browser.find_element(By.ID, "balance-KZT").text == format_amount(after["KZT"], "KZT")
    assert browser.find_element(By.ID, "before-BTC").text == format_amount(before["BTC"], "BTC")

    submit_and_wait(browser, browser.find_element(By.ID, "capture"))
    assert browser.find_element(By.ID, "purchase-status").text.startswith("captured")
    assert crypto_city.cards.customer_statement("aigerim")[0]["status"] == "captured"
    submit_and_wait(browser, browser.find_element(By.LINK_TEXT, "aigerim's wallet and statement →"))
    assert "Alatau Coffee" in browser.find_element(By.ID, "statement").text
    crypto_city.verify()

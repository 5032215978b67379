"""The charts in a real browser: one headless Chromium session visits every page with a chart — order book
(candles with volume, depth), regulator (KZTE reserve versus supply, declines by code, card volume per hour),
the POS result (the path of the money) and the HTML report — and finds each SVG with the seeded city's
data in it.

Skips (saying why) when Chromium is missing outside CI; under CI=true a missing browser is a failure —
.ci/setup-browser installs it there.
"""
from __future__ import annotations

import os
import shutil
import urllib.request

import pytest

from ledger import format_amount
from sandbox.city import CryptoCity
from sandbox.web import create_app
from browser_support import headless_chromium
from web_support import serve

CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
PURCHASES_MINOR = (1_500_00, 5_500_00, 9_500_00)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser():
    with headless_chromium() as driver:
        yield driver


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    """Purchases funded by BTC over three sandbox hours, two declines (59, 61), a KZTE mint and redemption."""
    city = CryptoCity.from_config("crypto-city", db=f"sqlite:///{tmp_path_factory.mktemp('charts') / 'c.db'}",
                                  seed=7)
    city.onboard(actor="aigerim", kyc_tier="full", deposits={"BTC": 2_000_000, "KZT": 1_000_00})
    city.onboard(actor="bob", kyc_tier="basic", deposits={"BTC": 1_000_000})
    for i, amount_minor in enumerate(PURCHASES_MINOR):
        assert city.pay(actor="aigerim", merchant="alatau-coffee", amount_minor=amount_minor,
                        ref=f"p{i}").status == "approved"
        city.advance("1h")
    city.pay(actor="aigerim", merchant="shady-casino", amount_minor=5_000_00, ref="x")
    city.pay(actor="bob", merchant="alatau-coffee", amount_minor=900_000_00, ref="y")
    city.deposit(actor="aigerim", asset="KZT", amount_minor=20_000_00)
    city.mint(actor="aigerim", amount_minor=10_000_00)
    city.advance("1h")
    city.redeem(actor="aigerim", amount_minor=3_000_00)
    city.verify()
    yield city
    city.verify()
    city.close()


@pytest.fixture(scope="module")
def site(city):
    yield from serve(create_app(city, {"OPEN_DASHBOARD": True}))


def chart(browser, selector: str):
    """The rendered <svg> under ``selector`` (the browser parsed it as SVG, not as text)."""
    from selenium.webdriver.common.by import By
    svg = browser.find_element(By.CSS_SELECTOR, f"{selector} svg")
    assert svg.get_attribute("namespaceURI") == "http://www.w3.org/2000/svg"
    assert svg.size["width"] > 300 and svg.size["height"] > 100, selector  # laid out, not collapsed
    return svg


def count(svg, css: str) -> int:
    from selenium.webdriver.common.by import By
    return len(svg.find_elements(By.CSS_SELECTOR, css))


def texts(svg) -> str:
    return svg.get_attribute("textContent")


def test_every_page_with_a_chart_shows_it_with_the_citys_data(browser, site, city, tmp_path_factory):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    book = city.exchange.depth("BTC/KZT", 10)
    browser.get(site + "/orderbook?symbol=BTC/KZT&interval=1h")
    depth = chart(browser, "#depth-chart")
    assert count(depth, "circle.dot") == 2 * (len(book["bids"]) + len(book["asks"]))
    assert format_amount(sum(q for _, q in book["bids"]), "BTC") in texts(depth)
    candles = browser.find_elements(By.CSS_SELECTOR, "#price-chart svg")
    assert len(candles) == 2  # the candles and, below them, the volume
    trades = city.exchange.candles("BTC/KZT", "1h", 48)
    assert count(candles[0], "g.box") == len(trades) >= 3
    assert count(candles[1], "rect.rect") == len(trades)

    browser.get(site + "/regulator")
    kzte = chart(browser, "#kzte-chart")
    assert count(kzte, "circle.dot") == 6  # reserve and supply after the mint, then a step down at the redemption
    assert format_amount(7_000_00, "KZTE") in texts(kzte)
    declines = chart(browser, "#declines-chart")
    assert count(declines, "rect.rect") == 2 and "59" in texts(declines) and "61" in texts(declines)
    hourly = chart(browser, "#hourly-chart")
    assert count(hourly, "rect.rect") >= len(PURCHASES_MINOR)
    assert format_amount(PURCHASES_MINOR[-1], "KZT") in texts(hourly)

    browser.get(site + "/pos")
    before = city.balances("aigerim")
    Select(browser.find_element(By.ID, "customer")).select_by_value("aigerim")
    Select(browser.find_element(By.ID, "merchant")).select_by_value("alatau-coffee")
    browser.find_element(By.ID, "amount").send_keys("20000.00")  # more than the bank account holds
    browser.find_element(By.ID, "pay").click()
    WebDriverWait(browser, 20).until(lambda b: b.find_elements(By.CSS_SELECTOR, "#money-path svg"))
    path = chart(browser, "#money-path")
    after = city.balances("aigerim")
    sold = {asset: before[asset] - after[asset] for asset in ("KZTE", "BTC") if before[asset] > after[asset]}
    assert sold, browser.find_element(By.ID, "result").text[:300]
    for asset, qty_minor in sold.items():  # the funding order sells KZTE first, then BTC
        assert format_amount(qty_minor, asset) in texts(path)
    assert count(path, "g.flow-node") == 4 and count(path, "g.flow-edge") == 3
    assert "held 20 000.00 KZT" in texts(path)

    # the HTML report is a download (an attachment): save it, as a host would, and open the file
    page = tmp_path_factory.mktemp("report") / "report.html"
    page.write_bytes(urllib.request.urlopen(site + "/regulator/report.html", timeout=60).read())
    browser.get(page.as_uri())
    assert len(browser.find_elements(By.CSS_SELECTOR, "figure.chart-box svg")) == 6
    assert count(chart(browser, "figure.chart-box"), "circle.dot") == 6  # the first: KZTE reserve vs supply

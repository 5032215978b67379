"""In a real browser: the dashboard's live feed (EventSource, the vendored static/live-feed.js) shows an
event that a purchase made over the API caused, without a reload. Headless Chromium as in
test_web_browser.py: skipped (saying why) when it is missing outside CI, a failure under CI=true."""
from __future__ import annotations

import pytest

from sandbox.web import create_app
from test_web_browser import browser, crypto_city  # noqa: F401 - fixtures shared with the other browser tests
from web_support import auth, serve

pytestmark = pytest.mark.slow


@pytest.fixture
def feed_server(crypto_city):  # noqa: F811 - the imported fixture
    yield from serve(create_app(crypto_city, {"OPEN_DASHBOARD": True}))


def test_an_api_purchase_appears_in_the_dashboards_live_feed(browser, feed_server, crypto_city):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from sandbox.apikeys import create_key
    with crypto_city.ledger.unit_of_work() as uow:
        merchant_key = create_key(uow.conn, "merchant", "alatau-coffee", now=uow.now()).token
        uow.commit()
    browser.get(feed_server + "/")
    WebDriverWait(browser, 20).until(
        lambda b: b.find_element(By.CSS_SELECTOR, "[data-feed-status]").text == "live")
    client = create_app(crypto_city, {"TESTING": True}).test_client()
    response = client.post("/api/v1/merchants/alatau-coffee/authorizations",
                           json={"pan": _pan(crypto_city), "amount_minor": 1_500_00},
                           headers=auth(merchant_key, **{"Idempotency-Key": "browser-feed-1"}))
    assert response.status_code == 201, response.json
    item = WebDriverWait(browser, 20).until(
        lambda b: b.find_element(By.CSS_SELECTOR, '#event-feed-list li[data-type="authorization.created"]'))
    assert "authorization.created" in item.text and "response_code 00" in item.text
    crypto_city.verify()


def _pan(city) -> str:
    with city.ledger.unit_of_work(read_only=True) as uow:
        row = uow.conn.exec_driver_sql("SELECT pan FROM card_cards ORDER BY id LIMIT 1").first()
    return row[0]

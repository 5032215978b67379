"""End to end in a real browser: headless Chromium opens the dashboard served by a real
HTTP server on 127.0.0.1 and reads a balance from the page.

Skips (saying why) when Chromium is missing outside CI; under CI=true a missing browser is
a failure — .ci/setup-browser installs it there.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import threading

import pytest
from werkzeug.serving import make_server

from ledger import format_amount
from sandbox.web import create_app

CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

pytestmark = pytest.mark.slow


@pytest.fixture
def browser():
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        message = f"headless Chromium not found ({CHROMIUM}, {CHROMEDRIVER}); run .ci/setup-browser to install it"
        if CI:
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="cryptocity-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", f"--user-data-dir={profile}", "--window-size=1280,900"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def live_server(city):
    app = create_app(city.ledger, {"OPEN_DASHBOARD": True})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def test_dashboard_shows_a_balance_in_a_real_browser(browser, live_server, city):
    from selenium.webdriver.common.by import By

    browser.get(live_server + "/")
    assert "Crypto City" in browser.title
    row = browser.find_element(By.ID, f"account-{city.alice}")
    assert "customer:cust:1:KZT" in row.text
    expected = format_amount(500_000_00 - 4_500_00, "KZT")
    assert row.find_element(By.CSS_SELECTOR, ".balance").text == expected

    row.find_element(By.LINK_TEXT, "customer:cust:1:KZT").click()
    assert browser.find_element(By.ID, "balance").text == expected
    entries = browser.find_element(By.ID, "entries").text
    assert "salary" in entries and "coffee" in entries

    browser.find_element(By.LINK_TEXT, "POS terminal").click()
    assert "arrives with the card module" in browser.find_element(By.TAG_NAME, "main").text

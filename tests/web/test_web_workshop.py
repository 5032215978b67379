"""`cryptocity workshop`: a seeded city, the participant sheet, and QR codes that open working pages.

One small workshop city is built and served for the module (3 customers, 2 merchants, 1 sandbox day);
the sheet's QR codes are decoded from pictures (zxing-cpp) and the decoded links are opened with a
cookie-keeping HTTP client, as a phone would.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import threading

import pytest
import requests
import zxingcpp
from PIL import Image
from werkzeug.serving import make_server

from browser_support import headless_chromium
from sandbox.workshop.cli import build
from sandbox.workshop.history import build_history
from sandbox.workshop.sheet import qr_png, render_html

SEED = 11


@pytest.fixture(scope="module")
def workshop(tmp_path_factory):
    """The built city, its sheet, the written files and the base URL it is served on."""
    from sandbox.web.app import create_app
    from sandbox.web.dashboard.workshop import SHEET_KEY
    holder = {}
    server = make_server("127.0.0.1", 0, lambda environ, start: holder["app"](environ, start), threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    tmp = tmp_path_factory.mktemp("workshop")
    city, sheet, paths = build(db_url=f"sqlite:///{tmp / 'w.db'}", config_name="crypto-city", seed=SEED, customers=3,
                               merchants=2, days=1, public_url=base, out_dir=tmp / "out", echo=lambda *_: None)
    holder["app"] = create_app(city, {"OPEN_DASHBOARD": False, SHEET_KEY: sheet, "SECRET_KEY": "test"})
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield city, sheet, paths, base
    finally:
        server.shutdown()
        thread.join(timeout=10)
        city.close()


def decode(path) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(Image.open(path))]


def test_the_sheet_lists_every_participant_with_a_code(workshop):
    city, sheet, (html_path, pdf_path), base = workshop
    page = html_path.read_text()
    assert page.count("class='participant customer'") == 3 and page.count("class='participant merchant'") == 2
    assert page.count("<svg") == 6   # the host, 3 customers, 2 merchants
    for p in sheet.participants:
        assert p.token in page and p.url.startswith(base + "/login?key=")
    customer = sheet.of_role("customer")[0]
    assert re.sub(r"\s", "", customer.pan) in re.sub(r"\s", "", page) and customer.iban in page
    assert pdf_path.read_bytes().startswith(b"%PDF-")


def test_a_decoded_customer_code_opens_their_wallet(workshop, tmp_path):
    city, sheet, _paths, base = workshop
    customer = sheet.of_role("customer")[0]
    qr_png(customer.url, tmp_path / "code.png")
    (url,) = decode(tmp_path / "code.png")
    assert url == customer.url
    phone = requests.Session()
    page = phone.get(url, timeout=10)
    assert page.status_code == 200 and page.url == f"{base}/wallet"
    assert "Wallet &amp; card" in page.text and customer.subject in page.text
    assert f"customer · {customer.subject}" in page.text   # signed in as that customer, nobody else
    other = sheet.of_role("customer")[1].subject
    assert phone.get(f"{base}/wallet", params={"customer": other}, timeout=10).status_code == 404


def test_the_printed_pdf_codes_decode_to_the_sheet_links(workshop, tmp_path):
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    _city, sheet, (_html, pdf_path), _base = workshop
    subprocess.run(["pdftoppm", "-png", "-r", "110", "-f", "1", "-l", "1", str(pdf_path), str(tmp_path / "page")],
                   check=True, timeout=60)
    (png,) = tmp_path.glob("page*.png")
    found = set(decode(png))
    assert found and found <= {p.url for p in sheet.participants}
    assert sheet.of_role("operator")[0].url in found and sheet.of_role("customer")[0].url in found


def test_a_merchant_code_opens_its_pos_terminal_with_its_purchases(workshop, tmp_path):
    city, sheet, _paths, base = workshop
    merchant = sheet.of_role("merchant")[0]
    qr_png(merchant.url, tmp_path / "m.png")
    (url,) = decode(tmp_path / "m.png")
    phone = requests.Session()
    page = phone.get(url, timeout=10)
    assert page.status_code == 200 and page.url == f"{base}/pos"
    assert 'id="shop-purchases"' in page.text and 'id="pay-form"' not in page.text
    purchases = city.read(lambda ctx, uow: __import__("card.authorizations", fromlist=["x"]).of_merchant(
        uow, merchant.subject))
    assert purchases, "the history paid at every merchant"
    assert page.text.count("<tr data-ref=") == min(len(purchases), 20)


def test_the_sheet_is_served_to_the_operator_only(workshop):
    _city, sheet, _paths, base = workshop
    host = requests.Session()
    assert host.get(sheet.of_role("operator")[0].url, timeout=10).status_code == 200
    served = host.get(f"{base}/workshop/sheet", timeout=10)
    assert served.status_code == 200 and served.text == render_html(sheet)
    pdf = host.get(f"{base}/workshop/sheet.pdf", timeout=30)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    customer = requests.Session()
    customer.get(sheet.of_role("customer")[0].url, timeout=10)
    assert customer.get(f"{base}/workshop/sheet", timeout=10).status_code == 403


def test_the_history_is_deterministic_and_the_ledger_balances(workshop, tmp_path):
    city, _sheet, _paths, _base = workshop
    from sandbox.city import CryptoCity

    def summary(c):
        return [c.balances(a) for a in ("cust-00001", "cust-00002", "cust-00003")], c.now()
    again = CryptoCity.from_config("crypto-city", db=f"sqlite:///{tmp_path / 'again.db'}", seed=SEED)
    try:
        build_history(again, customers=3, merchants=2, days=1, seed=SEED)
        assert summary(again) == summary(city)
        again.verify()
    finally:
        again.close()
    city.verify()


@pytest.mark.slow
def test_a_phone_pays_at_the_pos_without_scrolling_sideways(workshop):
    """Headless Chromium at 390 x 844 (a phone): the customer's link, then the POS terminal and a purchase;
    neither page is wider than the screen."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select
    city, sheet, _paths, base = workshop
    with headless_chromium(390, 844, phone=True) as driver:
        _pay_on_a_phone(driver, sheet, base, By, Select)
    city.verify()


def _pay_on_a_phone(driver, sheet, base, By, Select) -> None:  # noqa: N803 - selenium's names
    overflow = "return [document.documentElement.scrollWidth, window.innerWidth]"
    customer = sheet.of_role("customer")[2]
    driver.get(customer.url)
    assert "Wallet" in driver.title
    wide, screen = driver.execute_script(overflow)
    assert screen == 390 and wide <= screen, "the wallet page scrolls sideways"
    driver.get(f"{base}/pos")
    Select(driver.find_element(By.ID, "merchant")).select_by_index(0)
    driver.find_element(By.ID, "amount").send_keys("1200")
    driver.find_element(By.ID, "pay").click()
    from selenium.webdriver.support.ui import WebDriverWait
    status = WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.ID, "auth-status"))[0]   # the result page
    assert status.text in ("APPROVED", "DECLINED")
    wide, screen = driver.execute_script(overflow)
    assert wide <= screen, f"the POS result page is {wide} px wide on a {screen} px phone"


def test_the_command_refuses_a_database_that_already_holds_people(workshop, tmp_path):
    from click.testing import CliRunner

    from sandbox.cli import main
    city, _sheet, _paths, _base = workshop
    out = CliRunner().invoke(main, ["workshop", "--db", city.ctx.db.url, "--no-serve", "--out", str(tmp_path)])
    assert out.exit_code == 2 and "already holds a city with customers" in out.output
    assert not (tmp_path / "participants.html").exists()


def test_the_codes_point_where_phones_reach_the_server():
    from sandbox.workshop.cli import default_public_url, lan_address
    assert default_public_url("127.0.0.1", 8000) == "http://127.0.0.1:8000"
    assert default_public_url("10.1.2.3", 9000) == "http://10.1.2.3:9000"
    assert default_public_url("0.0.0.0", 8000) == f"http://{lan_address()}:8000"

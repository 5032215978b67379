"""Screenshots of every dashboard page at a projector's width (1024×768) and a phone's (390×844), for
docs/screenshots/. Run `make screenshots` (it needs headless Chromium: .ci/setup-browser).

It starts `cryptocity workshop` (a city with a seeded history) on a free port, adds a mining farm and
a day of sandbox time so the mining page has something to show, signs in as the host with the link
the command prints, pays once at the POS terminal for the result page, and saves one PNG per page and
size. Same seed, same city; the pictures differ only where the wall clock shows.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

CHROMIUM = os.environ.get("CRYPTOCITY_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CRYPTOCITY_CHROMEDRIVER", "/usr/bin/chromedriver")
SIZES = {"1024x768": (1024, 768), "390x844": (390, 844)}
PAGES = (("overview", "/"), ("pos", "/pos"), ("wallet", "/wallet"), ("orderbook", "/orderbook?symbol=BTC/KZT"),
         ("ledger", "/ledger"), ("regulator", "/regulator"), ("mining", "/mining"), ("webhooks", "/webhooks"),
         ("api-docs", "/docs"), ("workshop-sheet", "/workshop/sheet"), ("overview-ru", "/?lang=ru"),
         ("regulator-kk", "/regulator?lang=kk"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api(base: str, token: str, method: str, path: str, body: dict | None = None, key: str | None = None):
    request = urllib.request.Request(base + "/api/v1" + path, method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                                              **({"Idempotency-Key": key} if key else {})})
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - our own server
        return json.loads(response.read() or b"null")


def start_workshop(workdir: Path) -> tuple[subprocess.Popen, str, str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cli = Path(sys.executable).parent / "cryptocity"
    log = (workdir / "workshop.log").open("w")
    proc = subprocess.Popen([str(cli), "workshop", "-n", "12", "-m", "3", "--days", "2", "--db",
                             f"sqlite:///{workdir / 'city.db'}", "--host", "127.0.0.1", "--port", str(port),
                             "--public-url", base, "--out", str(workdir / "sheet")],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        found = re.search(r"sign in as the host: (\S+?)\)", (workdir / "workshop.log").read_text())
        if found:
            try:
                urllib.request.urlopen(base + "/readyz", timeout=5)  # noqa: S310 - our own server
                return proc, base, found.group(1)
            except OSError:
                pass
        if proc.poll() is not None:
            break
        time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGTERM)
    raise SystemExit("the workshop did not start:\n" + (workdir / "workshop.log").read_text()[-3000:])


def add_a_farm(base: str, token: str) -> None:
    api(base, token, "POST", "/customers", {"actor": "steppe-hash", "kyc_tier": "full"}, key="shot-farm-owner")
    api(base, token, "POST", "/mining/farms", {"farm": "steppe-hash", "location": "ekibastuz", "hashrate_ths": 50_000,
                                               "efficiency_j_per_th": 34, "sell_pct": 50}, key="shot-farm")
    api(base, token, "POST", "/clock/advance", {"seconds": 86_400}, key="shot-advance")


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", f"--user-data-dir={tempfile.mkdtemp(prefix='cryptocity-shots-')}"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def pay_once(driver, base: str) -> None:
    """One purchase through the POS form, so the POS page shows its result (and the money path)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver.get(base + "/pos?lang=en")
    Select(driver.find_element(By.NAME, "customer")).select_by_index(0)
    Select(driver.find_element(By.NAME, "merchant")).select_by_index(0)
    amount = driver.find_element(By.ID, "amount")
    amount.clear()
    amount.send_keys("4500")
    driver.find_element(By.ID, "pay").click()


def main(out_dir: str) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="cryptocity-screenshots-"))
    proc, base, host_link = start_workshop(workdir)
    driver = None
    try:
        token = host_link.split("key=", 1)[1].split("&", 1)[0]
        add_a_farm(base, token)
        driver = browser()
        driver.get(host_link)
        for size, (width, height) in SIZES.items():
            # the page's own viewport, exactly this size (a phone's as a phone: mobile, touch widths)
            driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})
            for name, path in PAGES:
                lang = "" if "lang=" in path else ("&" if "?" in path else "?") + "lang=en"
                driver.get(base + path + lang)
                driver.save_screenshot(str(out / f"{name}-{size}.png"))
            pay_once(driver, base)
            driver.execute_script("document.getElementById('result')?.scrollIntoView()")
            driver.save_screenshot(str(out / f"pos-result-{size}.png"))
        print(f"{len(list(out.glob('*.png')))} screenshots in {out}")
    finally:
        if driver is not None:
            driver.quit()
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")

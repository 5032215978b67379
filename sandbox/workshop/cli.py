"""``cryptocity workshop``: a city with a few days of seeded history, keys for the participants, their
sheet (HTML and PDF, with QR codes that sign a phone in), then the server.

Where phones reach it: the QR codes hold ``--public-url`` (default ``http://<this machine's LAN
address>:<port>``, found by asking the operating system which interface would route to the outside —
nothing is sent; ``127.0.0.1`` when there is none). The server listens on ``--host`` (default
``0.0.0.0``: every interface) with the dashboard closed: every visitor signs in with a key, so each
participant sees only their own wallet or shop.
"""
from __future__ import annotations

import os
import secrets
import socket
from pathlib import Path

import click

from sandbox.cli_support import db_option, redact

DEFAULT_DIR = Path(".cryptocity")
DEFAULT_SEED = 2026
PROBE_ADDRESS = ("192.0.2.1", 9)   # TEST-NET-1: routing is looked up, no packet is sent (UDP connect)


def lan_address() -> str:
    """This machine's address on its network (what a phone on the same Wi-Fi reaches), else 127.0.0.1."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(PROBE_ADDRESS)
        address = probe.getsockname()[0]
    except OSError:
        return "127.0.0.1"
    finally:
        probe.close()
    return address if address and not address.startswith("0.") else "127.0.0.1"


def default_public_url(host: str, port: int) -> str:
    from sandbox.web.serve import is_loopback
    shown = host if is_loopback(host) else (lan_address() if host in ("0.0.0.0", "::", "") else host)
    return f"http://{shown}:{port}"


def build(*, db_url: str, config_name: str, seed: int, customers: int, merchants: int, days: int,
          public_url: str, out_dir: Path, echo=click.echo):
    """Build the city and its history, make the keys, write the sheet files; returns (city, sheet, paths)."""
    from sandbox.city import CryptoCity
    from sandbox.web.serve import load_city_config

    from .history import build_history
    from .sheet import make_keys, render_html, render_pdf
    cfg = load_city_config(config_name)
    city = CryptoCity.from_config(cfg, db=db_url, seed=seed)
    if city.read(lambda ctx, uow: _customers(uow)) > 0:
        city.close()
        raise click.UsageError(f"{redact(db_url)} already holds a city with customers; a workshop starts from a "
                               "fresh database (leave out --db, or give a new one)")
    history = build_history(city, customers=customers, merchants=merchants, days=days, seed=seed)
    echo(f"History: {days} sandbox day{'s' if days > 1 else ''}, {len(history.customers)} customers, "
         f"{len(history.merchants)} merchants, {history.purchases_approved} purchases approved, "
         f"{history.purchases_declined} declined, {history.deposits} deposits, {history.trades} trades, "
         f"licence {history.licence_incident} suspended and reinstated once")
    sheet = make_keys(city, public_url, history.customers, history.merchants)
    out_dir.mkdir(parents=True, exist_ok=True)
    html_path, pdf_path = out_dir / "participants.html", out_dir / "participants.pdf"
    html_path.write_text(render_html(sheet), encoding="utf-8")
    pdf_path.write_bytes(render_pdf(sheet))
    return city, sheet, (html_path, pdf_path)


def _customers(uow) -> int:
    from sandbox import city_state
    return city_state.customer_count(uow.conn)


@click.command("workshop")
@click.option("--customers", "-n", "customers", default=12, show_default=True, type=click.IntRange(1, 200),
              help="Participant customers (each gets a key, a card and a QR code).")
@click.option("--merchants", "-m", "merchants", default=4, show_default=True, type=click.IntRange(1, 50),
              help="Participant merchants (each gets a key and a QR code for its POS terminal).")
@click.option("--days", default=3, show_default=True, type=click.IntRange(1, 30), help="Sandbox days of history.")
@click.option("--seed", default=DEFAULT_SEED, show_default=True, type=int, help="Same seed, same city.")
@click.option("--config", "config_name", default="crypto-city", show_default=True, metavar="PRESET_OR_PATH")
@db_option(f"a fresh SQLite file {DEFAULT_DIR}/workshop-seed-SEED.db", envvar=False)
@click.option("--host", default="0.0.0.0", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--public-url", default=None, metavar="URL",
              help="The address phones open (in the QR codes). Default: http://LAN-ADDRESS:PORT.")
@click.option("--out", "out_dir", default=str(DEFAULT_DIR / "workshop"), show_default=True,
              type=click.Path(file_okay=False), help="Where participants.html and participants.pdf are written.")
@click.option("--serve/--no-serve", "serve", default=True, show_default=True,
              help="--no-serve: build, write the sheet and stop (the database keeps the city).")
def workshop_command(customers: int, merchants: int, days: int, seed: int, config_name: str, db_url: str | None,
                     host: str, port: int, public_url: str | None, out_dir: str, serve: bool) -> None:
    """A city with a seeded history, the participants' sheet (keys, cards, QR codes), then the server."""
    public_url = (public_url or default_public_url(host, port)).rstrip("/")
    if not public_url.startswith(("http://", "https://")):
        raise click.UsageError(f"--public-url {public_url!r}: give a full address, like http://192.168.1.20:{port}")
    if db_url is None:
        path = DEFAULT_DIR / f"workshop-seed-{seed}.db"
        DEFAULT_DIR.mkdir(exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        db_url = f"sqlite:///{path}"
    city, sheet, (html_path, pdf_path) = build(db_url=db_url, config_name=config_name, seed=seed, customers=customers,
                                               merchants=merchants, days=days, public_url=public_url,
                                               out_dir=Path(out_dir))
    host_key = sheet.of_role("operator")[0]
    click.echo(f"Participant sheet: {html_path} and {pdf_path} ({customers} customers, {merchants} merchants)")
    click.echo(f"Dashboard: {public_url}/  (sign in as the host: {host_key.url})")
    click.echo(f"Sheet on the server (operator): {public_url}/workshop/sheet  ·  PDF: {public_url}/workshop/sheet.pdf")
    click.echo(f"Database: {redact(db_url)}")
    if not serve:
        city.close()
        return
    from sandbox.web.app import create_app
    from sandbox.web.dashboard.workshop import SHEET_KEY
    from sandbox.web.server_errors import ProblemRequestHandler
    from sandbox.webhooks import background
    background.start(city.ledger)
    app = create_app(city, {"OPEN_DASHBOARD": False, SHEET_KEY: sheet,
                            "SECRET_KEY": os.environ.get("CRYPTOCITY_SECRET_KEY") or secrets.token_hex(32)})
    click.echo(f"Serving on {host}:{port} (^C to stop)")
    app.run(host=host, port=port, threaded=True, use_reloader=False, debug=False, request_handler=ProblemRequestHandler)

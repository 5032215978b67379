"""``cryptocity webhooks``: run the dispatcher outside the server, list endpoints."""
from __future__ import annotations

import signal
import threading

import click

from sandbox.cli_support import db_option, open_existing, resolve_db_url

from . import schedule as retry_schedule
from .dispatcher import LEASE_S, TIMEOUT_S, Dispatcher
from .receive import receive_command


def _schedule(ctx, param, value):  # noqa: ANN001 - click callback
    if value is None:
        return None
    try:
        return retry_schedule.parse(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


@click.group("webhooks")
def webhooks_command() -> None:
    """Webhook delivery (the API manages endpoints: /api/v1/webhook-endpoints)."""


webhooks_command.add_command(receive_command)


@webhooks_command.command("dispatch")
@db_option("the SQLite file `cryptocity serve` uses")
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit (retries that are not due yet wait).")
@click.option("--threads", default=1, show_default=True, type=click.IntRange(1, 32),
              help="Delivery threads (each leases endpoints of its own).")
@click.option("--retry-schedule", "schedule", default=None, callback=_schedule, metavar="DELAYS",
              help=f"Delays before each attempt, e.g. 0,5s,5m (default {retry_schedule.DEFAULT_TEXT}, or "
                   f"{retry_schedule.ENVVAR}).")
@click.option("--timeout", "timeout_s", default=TIMEOUT_S, show_default=True, type=click.FloatRange(0.1, 60),
              help="Seconds one attempt may take.")
@click.option("--lease", "lease_s", default=LEASE_S, show_default=True, type=click.FloatRange(0.5, 3600),
              help="Seconds an endpoint stays leased to this dispatcher without news (a dead one's work "
                   "passes on after this).")
def dispatch_command(db_url: str | None, once: bool, threads: int, schedule, timeout_s: float,
                     lease_s: float) -> None:
    """Deliver webhooks: alongside `cryptocity serve --no-webhooks`, or any number of these on one database
    (they share the endpoints through leases)."""
    from ledger import Ledger
    if lease_s <= timeout_s:
        raise click.BadParameter("must be longer than --timeout", param_hint="--lease")
    db = open_existing(resolve_db_url(db_url), why="the dispatcher delivers the events of an existing city")
    dispatcher = Dispatcher(Ledger(db), schedule=schedule, timeout_s=timeout_s, lease_s=lease_s)
    try:
        if once:
            stats = dispatcher.run_once()
            click.echo(f"delivered {stats.delivered}, failed attempts {stats.failed_attempts}, endpoints served "
                       f"{stats.endpoints_served}" + (f", disabled {stats.disabled}" if stats.disabled else ""))
            return
        done = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: done.set())
        click.echo(f"dispatching webhooks ({threads} thread(s), retry schedule "
                   f"{retry_schedule.describe(dispatcher.schedule)}); Ctrl-C stops", err=True)
        dispatcher.start(threads)
        try:
            while not done.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        dispatcher.stop()
    finally:
        db.dispose()

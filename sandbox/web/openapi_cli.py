"""``cryptocity openapi``: the OpenAPI document ``/openapi.json`` serves, written without a server — for
generating a client (openapi-python-client, or any other OpenAPI generator) in a build step."""
from __future__ import annotations

import json
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import click


def document() -> dict:
    """The served document. It depends on the code only (not on a city or its data): the app is built
    over a ledger on a throw-away SQLite file that is never created (no request reaches it)."""
    from ledger import Database, Ledger, ManualClock
    from sandbox.web import create_app
    with tempfile.TemporaryDirectory(prefix="cryptocity-openapi-") as scratch:
        db = Database(f"sqlite:///{Path(scratch) / 'unused.db'}")
        app = create_app(Ledger(db, ManualClock(datetime(2026, 1, 1, tzinfo=timezone.utc))), {"TESTING": True})
        with app.app_context():
            spec = app.extensions["cryptocity_spec"]()
        db.dispose()
    return spec


@click.command("openapi")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="write the document to this file (default: print it)")
def openapi_command(out: Path | None) -> None:
    """Print (or --out FILE) the API's OpenAPI 3 document, as GET /openapi.json serves it."""
    if out is not None:
        from sandbox.cli_support import check_writable
        check_writable(out)  # before the work: an unwritable --out is exit 2, never a traceback
    text = json.dumps(document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")
        click.echo(f"wrote {out}", err=True)

"""What the commands share: the ``--db`` option and its rules, one-line refusals (exit 2), opening a
database only to read it, and checking an output path before the work starts.

A problem with what the user typed or with their machine — a database URL that is not one, a server
that does not answer, a file that cannot be written — is one line on stderr and exit code 2, never a
traceback. Exit code 1 stays what it was: a refusal of the sandbox's rules or a failed check.
"""
from __future__ import annotations

import os
from pathlib import Path

import click

from ledger.db import URL_FORMS, DatabaseUrlError, normalize_url, sqlite_path

DB_ENVVAR = "CRYPTOCITY_DATABASE_URL"
DEFAULT_DB_PATH = Path(".cryptocity") / "city.db"
DEFAULT_DB_URL = f"sqlite:///{DEFAULT_DB_PATH}"
_DB_META = "cryptocity.db_url"


class CliProblem(click.ClickException):
    """A problem with the command's input or its environment: ``Error: <one line>`` on stderr, exit 2."""

    exit_code = 2


def redact(db_url: str) -> str:
    """The URL without credentials, for printing."""
    scheme, sep, rest = db_url.partition("://")
    return f"{scheme}{sep}{rest.rsplit('@', 1)[-1]}" if sep else db_url


def serve_hint(db_url: str) -> str:
    """``--db`` as a user types it again to serve this city: a SQLite file by its path, a server URL
    with its password hidden (the user stays: it is part of where the city is)."""
    if db_url.startswith("sqlite:///"):
        return db_url.removeprefix("sqlite:///")
    if "://" not in db_url:
        return db_url
    from sqlalchemy.engine import make_url
    try:
        return make_url(db_url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a URL SQLAlchemy cannot parse was refused earlier; never print secrets
        return redact(db_url)


def resolve_db_url(db_url: str | None) -> str:
    """``--db``, else ``CRYPTOCITY_DATABASE_URL``, else the SQLite file under ``.cryptocity/``."""
    return db_url or os.environ.get(DB_ENVVAR) or DEFAULT_DB_URL


def _check_db_url(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    source = ctx.get_parameter_source(param.name or "")
    given = f"{DB_ENVVAR}={redact(value)}" if source == click.core.ParameterSource.ENVIRONMENT else "--db"
    try:
        normalize_url(value)
    except DatabaseUrlError as error:
        raise CliProblem(f"{given}: {error}") from None
    ctx.meta[_DB_META] = value
    return value


def db_option(default: str, *, envvar: bool = True):
    """The ``--db`` option: validated before the command runs (see ``ledger.db.normalize_url``)."""
    env = f" (or {DB_ENVVAR})" if envvar else ""
    return click.option("--db", "db_url", default=None, envvar=DB_ENVVAR if envvar else None, metavar="URL",
                        callback=_check_db_url,
                        help=f"Database{env}: {URL_FORMS} (default: {default}).")


def open_existing(db_url: str, *, need_city: bool = False, why: str = "this command only reads and creates none"):
    """The ``ledger.Database`` at ``db_url`` for a command that only reads: it must exist and carry this
    version's schema (and, with ``need_city``, a city). Nothing is created or migrated; else CliProblem
    (``why`` says, for a missing file, why this command will not create one)."""
    from ledger import Database
    url = normalize_url(db_url)
    where = sqlite_path(url) if url.startswith("sqlite") else redact(db_url)
    if url.startswith("sqlite") and not Path(where).is_file():
        raise CliProblem(f"no database at {where}: {why} "
                         "(check --db; `cryptocity populate` or `cryptocity serve` creates a city)")
    db = Database(url)
    try:
        state = db.schema_state()
        if state == "empty":
            raise CliProblem(f"the database {where} is empty: it holds no city "
                             "(`cryptocity populate` or `cryptocity serve` creates one)")
        if state == "outdated":
            raise CliProblem(f"the database {where} has the schema of another cryptocity version; open it once "
                             "with a command that writes (e.g. `cryptocity serve`) to bring it up to date")
        if need_city:
            from . import city_state
            with db.engine.connect() as conn:
                if city_state.head(conn) is None:
                    raise CliProblem(f"the database {where} holds no city "
                                     "(`cryptocity populate` or `cryptocity serve` creates one)")
    except BaseException:
        db.dispose()
        raise
    return db


def check_reachable(db_url: str) -> None:
    """Connect once (and let go): a server that does not answer fails here, in this process."""
    from ledger import Database
    db = Database(normalize_url(db_url))
    try:
        with db.engine.connect():
            pass
    finally:
        db.dispose()


def check_writable(path: str | Path) -> Path:
    """Refuse (CliProblem) an output path that cannot be written — before the work, not after it."""
    path = Path(path)
    folder = path.parent
    if path.is_dir():
        raise CliProblem(f"cannot write {path}: it is a folder")
    if not folder.is_dir():
        raise CliProblem(f"cannot write {path}: the folder {folder} does not exist")
    if not os.access(path if path.exists() else folder, os.W_OK):
        raise CliProblem(f"cannot write {path}: permission denied")
    return path


def environment_problem(error: BaseException, ctx: click.Context | None = None) -> str | None:
    """One line for an error that comes from the user's environment rather than from a bug: a database
    that cannot be reached or opened, a file that cannot be read or written. None for anything else."""
    from sqlalchemy.exc import InterfaceError, OperationalError
    if isinstance(error, DatabaseUrlError):
        return f"--db: {error}"
    if isinstance(error, (OperationalError, InterfaceError)):
        url = ctx.meta.get(_DB_META) if ctx is not None else None
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        return f"cannot use the database{f' {redact(url)}' if url else ''}: {reason}"
    if isinstance(error, OSError):
        what = f"{error.filename}: " if error.filename else ""
        return f"{what}{error.strerror or error}"
    return None

"""Bad input and a hostile machine at the command line: a database URL that is not one, a server that does
not answer, an output path that cannot be written, a YAML bomb — one line on stderr, exit 2, no traceback.
Commands that only read (report, audit verify, keys list) never create or migrate a database."""
from __future__ import annotations

import os
import sqlite3

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect

from ledger import Database
from sandbox.cli import main
from test_cli_foundation import run
from test_cli_scenarios_audit import REPO

UNREACHABLE = "postgresql://postgres@127.0.0.1:1/city"  # nothing listens on port 1
CITY_SEED = 3


def one_line_error(result, *words: str) -> str:
    """The refusal: exit 2, a single line on stderr naming the problem, no traceback."""
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def cli(args: list[str], folder, **env: str | None) -> object:
    """``cryptocity ARGS`` in ``folder`` (click's runner; no database URL in the environment unless given)."""
    runner = CliRunner(env={"CRYPTOCITY_DATABASE_URL": None, "COLUMNS": "120", **env})
    here = os.getcwd()
    os.chdir(folder)
    try:
        return runner.invoke(main, args)
    finally:
        os.chdir(here)


@pytest.fixture(scope="module")
def city_db(tmp_path_factory):
    """A small city (one customer) on SQLite; tests copy it if they change it."""
    from sandbox.city import CryptoCity
    path = tmp_path_factory.mktemp("bad-input") / "city.db"
    city = CryptoCity.from_config("crypto-city", db=f"sqlite:///{path}", seed=CITY_SEED)
    city.onboard(actor="aigerim", kyc_tier="full", resident=True, aifc_investor=False, deposits={"KZT": 1_000_00})
    city.verify()
    city.close()
    return path


DB_COMMANDS = [["demo"], ["populate", "--customers", "1", "--merchants", "1"], ["report"], ["audit", "verify"],
               ["keys", "create", "operator"], ["keys", "list"], ["keys", "revoke", "1"], ["serve"],
               ["bench", "ledger", "--count", "10"],
               ["run", str(REPO / "scenarios" / "01-coffee-btc-in-zone.yaml")]]


@pytest.mark.parametrize("command", DB_COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_a_db_that_is_not_a_database_url_is_one_line_and_creates_nothing(command, tmp_path):
    for bad, words in (("garbage", ("--db", "'garbage'", "sqlite:///PATH")),
                       ("mysql://me:s3cret@db/city", ("unsupported database 'mysql'",)),
                       ("sqlite://", ("SQLite needs a file",))):
        line = one_line_error(cli(command + ["--db", bad], tmp_path), *words)
        assert "s3cret" not in line
    assert list(tmp_path.iterdir()) == [], "nothing may be created"


def test_the_environment_variable_is_checked_and_named_too(tmp_path):
    one_line_error(cli(["audit", "verify"], tmp_path, CRYPTOCITY_DATABASE_URL="oops"), "CRYPTOCITY_DATABASE_URL=oops")


@pytest.mark.parametrize("command", [c for c in DB_COMMANDS if c[0] not in ("run", "bench")],
                         ids=lambda c: " ".join(c[:2]))
def test_an_unreachable_postgresql_server_is_one_line(command, tmp_path):
    one_line_error(cli(command + ["--db", UNREACHABLE], tmp_path), "cannot use the database postgresql://127.0.0.1:1/city",
                   "Connection refused")


@pytest.mark.parametrize("command", [["report"], ["audit", "verify"], ["keys", "list"], ["keys", "revoke", "1"],
                                     ["keys", "create", "customer", "--for", "aigerim"]], ids=" ".join)
def test_commands_that_only_read_never_create_a_database(command, tmp_path):
    missing = tmp_path / "typo.db"
    one_line_error(cli(command + ["--db", str(missing)], tmp_path), f"no database at {missing}")
    one_line_error(cli(command, tmp_path), "no database at .cryptocity/city.db")   # the default, absent
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()  # a SQLite file without a single table
    one_line_error(cli(command + ["--db", str(empty)], tmp_path), "is empty")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.db"]
    with sqlite3.connect(empty) as conn:
        assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone() == (0,)  # not migrated


def test_report_needs_a_city_and_audit_verify_a_current_schema(tmp_path):
    ledger_only = tmp_path / "ledger.db"
    db = Database(f"sqlite:///{ledger_only}")
    db.migrate(["ledger"])
    db.dispose()
    one_line_error(cli(["audit", "verify", "--db", str(ledger_only)], tmp_path), "another cryptocity version")
    db = Database(f"sqlite:///{ledger_only}")
    db.migrate()
    db.dispose()
    one_line_error(cli(["report", "--db", str(ledger_only)], tmp_path), "holds no city")


@pytest.mark.postgres
def test_an_empty_postgresql_schema_is_not_migrated_by_a_reading_command(pg_url, tmp_path):
    one_line_error(cli(["report", "--db", pg_url], tmp_path), "is empty")
    one_line_error(cli(["keys", "list", "--db", pg_url], tmp_path), "is empty")
    engine = create_engine(pg_url)
    try:
        assert inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


def test_an_output_path_that_cannot_be_written_is_one_line_before_the_work(city_db, tmp_path):
    db = str(city_db)
    one_line_error(cli(["report", "--db", db, "--out", "/nonexistent/r.html"], tmp_path),
                   "cannot write /nonexistent/r.html", "does not exist")
    one_line_error(cli(["report", "--db", db, "--out", "/proc/cryptocity-report.html"], tmp_path),
                   "/proc/cryptocity-report.html")   # the check passes (root may write anywhere); the write fails
    scenario = str(REPO / "scenarios" / "01-coffee-btc-in-zone.yaml")
    result = cli(["run", scenario, "--junit", "/nonexistent/junit.xml"], tmp_path)
    one_line_error(result, "cannot write /nonexistent/junit.xml")
    assert "PASS" not in result.stdout  # refused before the scenario ran
    folder = tmp_path / "read-only"
    folder.mkdir(mode=0o555)
    result = cli(["report", "--db", db, "--out", str(folder / "r.html")], tmp_path)
    if result.exit_code != 0:  # as root, a read-only folder is writable after all
        one_line_error(result, f"cannot write {folder / 'r.html'}", "permission denied")


def test_keys_are_only_created_for_a_customer_or_merchant_that_exists(city_db, tmp_path):
    db = tmp_path / "city.db"
    db.write_bytes(city_db.read_bytes())
    for role, subject in (("customer", "nobody"), ("merchant", "nobody"), ("customer", "alatau-coffee")):
        result = cli(["keys", "create", role, "--for", subject, "--db", str(db)], tmp_path)
        assert result.exit_code == 1 and f"refused (unknown_{role}): there is no {role} {subject!r}" in result.stderr
    assert "nobody" not in cli(["keys", "list", "--db", str(db)], tmp_path).stdout  # nothing was stored
    for role, subject in (("customer", "aigerim"), ("merchant", "alatau-coffee")):
        made = cli(["keys", "create", role, "--for", subject, "--db", str(db)], tmp_path)
        assert made.exit_code == 0 and made.stdout.startswith("cck_"), made.stderr
    listed = cli(["keys", "list", "--db", str(db)], tmp_path).stdout
    assert "aigerim" in listed and "alatau-coffee" in listed


def test_a_yaml_bomb_is_refused_by_run_and_as_a_configuration(tmp_path, yaml_bomb):
    scenario, line = yaml_bomb("name: laughs\nconfig: crypto-city\n")
    (tmp_path / "bomb.yaml").write_text(scenario)
    result = run(["run", "bomb.yaml"], tmp_path)
    assert result.returncode == 2 and f"INVALID bomb.yaml:{line}: the document expands" in result.stdout
    config, line = yaml_bomb()
    (tmp_path / "city.yaml").write_text(config)
    for command in (["populate", "--customers", "1", "--merchants", "1", "--db", "p.db"], ["serve", "--db", "p.db"]):
        result = run(command + ["--config", "city.yaml"], tmp_path)
        assert result.returncode == 2 and f"line {line}: the document expands" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr

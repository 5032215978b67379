"""End-to-end through the console script: the demo and the ledger and card benchmarks."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CLI = [str(Path(sys.executable).parent / "cryptocity")]


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "120"}
    env.pop("CRYPTOCITY_DATABASE_URL", None)
    return subprocess.run(CLI + args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_demo_tells_the_story_and_ends_verified(tmp_path):
    first = run(["demo", "--seed", "11"], tmp_path)
    assert first.returncode == 0, first.stderr
    assert "invariants verified" in first.stdout
    assert "insufficient_funds" in first.stdout  # the refusal is explained, not a traceback
    assert "cryptocity serve --db .cryptocity/demo-seed-11.db" in first.stdout   # how to explore its city
    second = run(["demo", "--seed", "11"], tmp_path)
    assert second.stdout == first.stdout  # same seed, same story, byte for byte


def test_bench_ledger_prints_both_rates_and_a_ratio(tmp_path):
    result = run(["bench", "ledger", "--count", "200"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "raw single-row INSERT+COMMIT" in result.stdout
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("ratio 0.") or last.startswith("ratio 1.")


def test_bench_card_prints_every_round_latencies_and_a_ratio(tmp_path):
    result = run(["bench", "card", "--count", "60", "--rounds", "3"], tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "60 authorizations, 480 raw inserts, 3 interleaved rounds" in out
    assert "every round (b)" in out and "latency p99" in out and "ledger.verify(): invariants hold" in out
    assert out.strip().splitlines()[-1].startswith("ratio 0.")
    statements, trips = (line.split() for line in out.strip().splitlines()[-3:-1])
    assert statements[:3] == ["statements", "per", "authorization"] and int(statements[3]) > 0
    assert trips[:4] == ["round", "trips", "per", "authorization"] and int(trips[4]) >= int(statements[3])


def test_help_lists_the_commands(tmp_path):
    result = run(["--help"], tmp_path)
    assert result.returncode == 0
    for command in ("demo", "bench"):
        assert command in result.stdout


def test_presets_lists_both_regimes(tmp_path):
    result = run(["presets"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "crypto-city" in result.stdout and "aifc-classic" in result.stdout


def test_invalid_configuration_names_the_key_without_a_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("sandbox:\n  nmae: x\n")
    result = run(["populate", "--config", str(bad), "--customers", "1", "--merchants", "1",
                  "--db", str(tmp_path / "p.db")], tmp_path)
    assert result.returncode == 2
    assert "sandbox.nmae: unknown key 'nmae'" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_audit_verify_on_a_database_without_entries_is_intact(tmp_path):
    from ledger import Database
    db = Database(f"sqlite:///{tmp_path / 'a.db'}")
    db.migrate()
    db.dispose()
    result = run(["audit", "verify", "--db", str(tmp_path / "a.db")], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "intact: 0 entries" in result.stdout

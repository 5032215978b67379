"""A newcomer's first screen: ``make demo`` finds a Python >= 3.11 without printing the complaints of the
candidates it tries (pyenv shims of versions that are installed but not selected)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_the_python_probe_keeps_failing_shims_quiet(tmp_path):
    shims = tmp_path / "shims"
    shims.mkdir()
    for name in ("python3.13", "python3.12"):  # what pyenv puts on PATH for a version not selected
        shim = shims / name
        shim.write_text(f"#!/bin/sh\necho 'pyenv: {name}: command not found' >&2\nexit 127\n")
        shim.chmod(0o755)
    real = shims / "python3.11"
    real.symlink_to(sys.executable)  # a Python >= 3.11, as the probe wants
    work = tmp_path / "checkout"
    work.mkdir()
    shutil.copy(REPO / "Makefile", work / "Makefile")
    env = {**os.environ, "PATH": f"{shims}{os.pathsep}{os.environ['PATH']}"}
    env.pop("PYTHON", None)
    for name in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS"):  # under `make test` a sub-make says "Entering directory"
        env.pop(name, None)
    result = subprocess.run(["make", "-n", ".venv/bin/python"], cwd=work, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "python3.11 -m venv .venv" in result.stdout.splitlines()


def test_the_licence_is_an_spdx_string_so_setuptools_prints_no_deprecation():
    """setuptools >= 77 warns ("License classifiers are deprecated" / a `license` table) at every install
    when the licence is a TOML table; an SPDX expression string is what it asks for."""
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert isinstance(project["project"]["license"], str)
    assert not any(c.startswith("License ::") for c in project["project"].get("classifiers", []))
    assert any(req.startswith("setuptools>=77") for req in project["build-system"]["requires"])

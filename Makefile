# Two commands on a fresh machine: `make demo` and `make test`.
# Both create .venv on first use; a change to pyproject.toml reinstalls.
# The probe runs each candidate quietly: a pyenv shim for a version that is installed but not selected
# exists on PATH, and running it prints "pyenv: python3.13: command not found" before failing.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
  command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 \
  && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
RUNTIME_STAMP := $(VENV)/.installed-runtime
DEV_STAMP := $(VENV)/.installed-dev
PYTEST_ARGS ?=

.PHONY: demo test venv clean chains

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "Python >= 3.11 is required"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# setuptools announces every editable install with an "Editable installation." notice (its InformationOnly
# warning: information, not a problem); keep that one message, and only it, off a newcomer's first screen.
$(RUNTIME_STAMP) $(DEV_STAMP): export PYTHONWARNINGS = ignore:Editable installation:UserWarning

$(RUNTIME_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@ $(RUNTIME_STAMP)

venv: $(DEV_STAMP)

demo: $(RUNTIME_STAMP)
	$(BIN)/cryptocity demo

# The shared EVM node for a city served by several processes: anvil, the version pinned in
# chains/package-lock.json, installed by npm under chains/node_modules (no install scripts run: the binary
# comes in the platform's own package). Needs Node.js and npm.
ANVIL_STAMP := chains/node_modules/.installed

$(ANVIL_STAMP): chains/package.json chains/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "make chains needs npm (Node.js) to install anvil"; exit 1; }
	npm ci --prefix chains --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

chains: $(ANVIL_STAMP)

# With npm, the tests that need the shared EVM node get it; without npm they are skipped (failed under CI).
test: $(DEV_STAMP)
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory chains; \
	  else echo "npm not found: the tests that need anvil (the shared EVM node) will be skipped"; fi
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache chains/node_modules

# Screenshots of every dashboard page at 1024x768 and 390x844 into docs/screenshots/ (needs headless
# Chromium: .ci/setup-browser).
.PHONY: screenshots
screenshots: $(DEV_STAMP)
	$(BIN)/python scripts/screenshots.py docs/screenshots

# The dashboard's message catalogues (docs/dashboard.md#languages-english-russian-kazakh): extract the
# texts marked in the templates and sandbox/i18n, then add new ones to the Russian and Kazakh .po files.
.PHONY: catalogues
catalogues: $(DEV_STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k N_ --no-location --sort-output --project cryptocity --version 0.1.0 \
	  --copyright-holder cryptocity -o sandbox/i18n/messages.pot .
	$(BIN)/pybabel update -i sandbox/i18n/messages.pot -d sandbox/i18n/locale --ignore-obsolete \
	  --no-fuzzy-matching -w 120

# `make run` and `make test` are all the set-up a new user types: each bootstraps
# .venv and installs the project on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# uv installs exactly what uv.lock names (versions and hashes); it lives in its own
# venv so that syncing .venv never removes it.
TOOLS := .tools
UV := $(TOOLS)/bin/uv
RUNTIME_STAMP := $(VENV)/.runtime-installed
DEV_STAMP := $(VENV)/.dev-installed
export UV_PROJECT_ENVIRONMENT := $(VENV)
# this machine's Python, never a downloaded one
export UV_PYTHON_DOWNLOADS := never

.PHONY: run test check format bench clean lock redis-server zapier-test

$(UV): requirements/uv.txt
	test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install -q --require-hashes -r requirements/uv.txt
	touch $(UV)

# `make run` installs the runtime set only; `make test` adds the dev group. --locked
# fails when pyproject.toml and uv.lock disagree (run `make lock`), so nothing is
# ever resolved afresh on install.
$(RUNTIME_STAMP): $(UV) uv.lock pyproject.toml
	$(UV) sync --locked --no-dev --inexact --python $(PYTHON)
	touch $(RUNTIME_STAMP)

$(DEV_STAMP): $(UV) uv.lock pyproject.toml
	$(UV) sync --locked --python $(PYTHON)
	touch $(DEV_STAMP) $(RUNTIME_STAMP)

# Refresh uv.lock on purpose: the newest versions pyproject.toml allows.
lock: $(UV)
	$(UV) lock --upgrade --python $(PYTHON)

# redis-server is needed by `bridge dev` and the tests; install it where we can.
redis-server:
	@command -v redis-server >/dev/null 2>&1 || scripts/ensure-redis.sh

run: $(RUNTIME_STAMP) redis-server
	$(BIN)/bridge dev

test: $(DEV_STAMP) redis-server
	$(BIN)/python -m pytest $(PYTEST_ARGS)

check: $(DEV_STAMP)
	$(BIN)/ruff check bridge tasks tests bench
	$(BIN)/ruff format --check bridge tasks tests bench
	$(BIN)/mypy

format: $(DEV_STAMP)
	$(BIN)/ruff check --fix bridge tasks tests bench
	$(BIN)/ruff format bridge tasks tests bench

# The Zapier app (integrations/zapier/): `npm ci` from its package-lock.json when the lock
# changed, then its own tests (zapier-platform validate, and node:test against a `bridge dev`
# the tests start from .venv). Needs npm; Node 22 for the Zapier CLI comes from the lock.
ZAPIER := integrations/zapier
ZAPIER_STAMP := $(ZAPIER)/node_modules/.installed

$(ZAPIER_STAMP): $(ZAPIER)/package.json $(ZAPIER)/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "make zapier-test needs npm (Debian: apt-get install nodejs npm)"; exit 1; }
	cd $(ZAPIER) && npm ci --no-audit --no-fund
	touch $(ZAPIER_STAMP)

zapier-test: $(RUNTIME_STAMP) redis-server $(ZAPIER_STAMP)
	cd $(ZAPIER) && npm test

bench: $(DEV_STAMP) redis-server
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) $(TOOLS) *.egg-info .pytest_cache .mypy_cache .ruff_cache $(ZAPIER)/node_modules

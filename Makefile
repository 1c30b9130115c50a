# `make run` and `make test` are all the set-up a new user types: each bootstraps
# .venv and installs the project on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test check format bench clean redis-server

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -U pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

# redis-server is needed by `bridge dev` and the tests; install it where we can.
redis-server:
	@command -v redis-server >/dev/null 2>&1 || scripts/ensure-redis.sh

run: $(STAMP) redis-server
	$(BIN)/bridge dev

test: $(STAMP) redis-server
	$(BIN)/python -m pytest $(PYTEST_ARGS)

check: $(STAMP)
	$(BIN)/ruff check bridge tasks tests bench
	$(BIN)/ruff format --check bridge tasks tests bench
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix bridge tasks tests bench
	$(BIN)/ruff format bridge tasks tests bench

bench: $(STAMP) redis-server
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .mypy_cache .ruff_cache

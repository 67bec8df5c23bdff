# callcenter: `make run` to run the service, `make test` for the tests (real Asterisk + PostgreSQL).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
export ASTERISK_ROOT ?= /var/cache/callcenter/asterisk-sid

.PHONY: run test lint unit asterisk asterisk-stop demo bench system-deps clean

$(BIN)/callcenter: pyproject.toml
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { scripts/system-deps.sh python && $(PYTHON) -m venv $(VENV); }
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@

venv: $(BIN)/callcenter

## run: install what is missing, migrate the database (SQLite by default), run the service
run: venv
	$(BIN)/callcenter db upgrade
	$(BIN)/callcenter run

## test: lint, unit tests, and integration tests against a real Asterisk and PostgreSQL
test: venv system-deps
	$(BIN)/ruff check .
	$(BIN)/pytest

unit: venv
	$(BIN)/pytest tests/unit

lint: venv
	$(BIN)/ruff check .

system-deps:
	@scripts/system-deps.sh test

## asterisk: the local Asterisk 22 with asterisk_conf/ (for development)
asterisk: system-deps
	scripts/asterisk.sh up

asterisk-stop:
	scripts/asterisk.sh down

## demo: local Asterisk + the service + a sample queue call
demo: venv system-deps
	$(BIN)/python -m tests.demo

## bench: benchmarks, printed as a table
bench: venv system-deps
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache callcenter.db*

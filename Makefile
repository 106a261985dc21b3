# omnihub: `make demo` and `make test` work on a fresh clone (they create .venv themselves).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARGS ?=

.PHONY: demo test test-fast lint fmt bench bench-quick serve clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)  ## a demo retailer's multi-channel day; ARGS="--duration 30" to stop by itself
	$(BIN)/omnihub demo $(ARGS)

test: $(STAMP)  ## every test: unit, service, SQLite, PostgreSQL, HTTP end to end
	$(BIN)/python -m pytest $(ARGS)

test-fast: $(STAMP)  ## the quick layers only
	$(BIN)/python -m pytest -m "unit or service" $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy
	$(BIN)/lint-imports

fmt: $(STAMP)
	$(BIN)/ruff check --fix src tests
	$(BIN)/ruff format src tests

bench: $(STAMP)  ## the benchmarks (docs/benchmarks.md); ARGS="--db postgresql --bus nats --json bench.json"
	$(BIN)/omnihub bench $(ARGS)

bench-quick: $(STAMP)  ## every suite with smaller loads, under 3 minutes
	$(BIN)/omnihub bench --quick $(ARGS)

serve: $(STAMP)
	$(BIN)/omnihub serve $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .hypothesis omnihub-demo.db*

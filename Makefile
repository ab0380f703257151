# Two commands from a fresh clone: `make run` and `make test`. Both build .venv when it is missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CONFIG ?= configs/backtest/ema_cross_btcusdt_1m.toml

.PHONY: setup run replay test test-slow lint bench ingest clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip wheel setuptools
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

ingest: $(STAMP)
	$(PY) -m catalog.ingest --config configs/catalog/sample.toml
	$(PY) -m catalog.options --config configs/catalog/options.toml

run: ingest
	$(PY) -m engine.backtest --config $(CONFIG)

replay: ingest
	$(PY) -m engine.live --config configs/live/replay.toml --speed max

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

test: lint
	$(PY) -m pytest -q -n 2

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

bench: ingest
	$(PY) -m research.bench engine
	$(PY) -m research.bench walkforward_overhead
	$(PY) -m research.bench parallel_speedup

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache

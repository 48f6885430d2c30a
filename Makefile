# E-Kengash Live. `make run` serves the demo; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

run: $(STAMP)
	$(BIN)/kengash migrate
	KENGASH_DEMO=1 $(BIN)/kengash demo
	@echo ""
	@echo "E-Kengash Live is starting on http://$(HOST):$(PORT)"
	@echo "  Portal (no login):   http://$(HOST):$(PORT)/    (live sessions, decisions register)"
	@echo "  Watch a session:     http://$(HOST):$(PORT)/watch/1"
	@echo "  Chair console:       http://$(HOST):$(PORT)/chair    (log in as: chair)"
	@echo "  Deputy tablet:       http://$(HOST):$(PORT)/deputy   (log in as: deputy02 ... deputy33)"
	@echo "  Clerk (protocols):   http://$(HOST):$(PORT)/clerk    (log in as: secretary)"
	@echo "  Operator (broadcast): http://$(HOST):$(PORT)/operator (log in as: operator; OBS Studio by WHIP)"
	@echo "  Also:                admin"
	@echo "  All demo logins:     $(BIN)/kengash demo --list"
	@echo "  Check the ledger:    $(BIN)/kengash ledger verify http://$(HOST):$(PORT)"
	@echo ""
	KENGASH_DEMO=1 KENGASH_HOST=$(HOST) KENGASH_PORT=$(PORT) $(BIN)/kengash serve

test: $(STAMP)
	$(BIN)/ruff check session_server voting biometrics tlog documents broadcast tests bench
	$(BIN)/mypy
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check session_server voting biometrics tlog documents broadcast tests bench
	$(BIN)/ruff format --check session_server voting tests bench
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/fanout.py --viewers 1000 5000

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache

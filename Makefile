# Two commands on a fresh machine with python3 and make: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
export SIGNAL_PIPELINE_DATABASE_URL ?= sqlite:///./var/signal-pipeline.db

.PHONY: run test lint typecheck pytest fuzz openapi bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.runtime

## run: install, migrate and serve on http://$(HOST):$(PORT) with the embedded defaults
run: $(VENV)/.runtime
	@mkdir -p var
	$(BIN)/signal-pipeline migrate
	@$(BIN)/signal-pipeline dev key --file var/dev-api-key >/dev/null
	@echo ""
	@echo "  service   http://$(HOST):$(PORT)"
	@echo "  API docs  http://$(HOST):$(PORT)/docs"
	@echo "  API key   $$(cat var/dev-api-key)   (development key, all scopes; also in var/dev-api-key)"
	@echo "  web app   $$($(BIN)/signal-pipeline dev login-link --email admin@example.com --role admin --base-url http://$(HOST):$(PORT) 2>/dev/null || echo http://$(HOST):$(PORT)/app/login)"
	@echo "            (one-time sign-in link, 15 minutes; more with: signal-pipeline dev login-link --email ... --role ...)"
	@echo ""
	SIGNAL_PIPELINE_SANDBOX=$${SIGNAL_PIPELINE_SANDBOX:-true} $(BIN)/signal-pipeline serve --host $(HOST) --port $(PORT) --no-migrate

## test: lint, type-check and run the whole suite (PostgreSQL too when TEST_DATABASE_URL is set)
test: lint typecheck pytest

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.dev
	$(BIN)/mypy

pytest: $(VENV)/.dev
	$(BIN)/pytest -n 2 --dist loadfile -q

## fuzz: schemathesis over every operation of openapi/openapi.json against a real server on PostgreSQL
## (its own database on TEST_DATABASE_URL's server; FUZZ_MAX_EXAMPLES, FUZZ_SEED: see fuzz/run.py)
fuzz: $(VENV)/.dev
	$(BIN)/python fuzz/run.py

## openapi: regenerate openapi/openapi.json from the code
openapi: $(VENV)/.runtime
	$(BIN)/signal-pipeline openapi --out openapi/openapi.json

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache

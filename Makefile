# djcfg-env developer commands. `make demo` and `make test` are all a newcomer needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install demo test bench postgres clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test,postgres]"
	touch $@

## Run the demo project on SQLite from example.env.
demo: install
	PATH="$(CURDIR)/$(BIN):$$PATH" bash docs/demo/run

## Start PostgreSQL (installing it if needed), then run the whole test suite.
## Without a PostgreSQL server those tests skip, unless DJCFG_REQUIRE_POSTGRES=1.
test: install
	-bash .ci/postgres-up
	$(BIN)/pytest $(PYTEST_ARGS)

## Benchmarks: ratios against baselines measured in the same run.
bench: install
	-bash .ci/postgres-up
	$(BIN)/python benchmarks/run.py

postgres:
	bash .ci/postgres-up

clean:
	rm -rf $(VENV) docs/demo/var .pytest_cache

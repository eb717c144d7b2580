# djcfg-env developer commands. `make demo` and `make test` are all a newcomer needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Three workers that steal work from each other: the suite waits on subprocesses and databases as
# much as it computes, and work stealing keeps a long test from leaving a worker idle at the end.
XDIST ?= -n 3 --dist worksteal
# Python's bytecode cache on, even where the environment turns it off (PYTHONDONTWRITEBYTECODE):
# otherwise each worker rewrites and compiles every test module again, and every subprocess
# compiles djcfg-env and the test projects again.
PYTEST := env -u PYTHONDONTWRITEBYTECODE

.PHONY: install demo test test-django42 test-django6 lint package-check bench postgres clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	-PYTHON=$(PYTHON) bash .ci/mariadb-up --deps-only
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test,postgres]"
	touch $@

## Run the demo project on SQLite from example.env.
demo: install
	PATH="$(CURDIR)/$(BIN):$$PATH" bash docs/demo/run

## Start PostgreSQL and MariaDB (installing them if needed), then run the whole test suite.
## Without a server those tests skip, unless DJCFG_REQUIRE_POSTGRES=1 / DJCFG_REQUIRE_MYSQL=1.
test: install
	-bash .ci/postgres-up
	-bash .ci/postgres-replica-up
	-bash .ci/mariadb-up
	$(PYTEST) $(BIN)/pytest $(XDIST) $(PYTEST_ARGS)

## The same suite on the oldest supported Django (4.2 LTS), in its own venv.
test-django42: .venv-django42/.installed
	-bash .ci/postgres-up
	-bash .ci/postgres-replica-up
	-bash .ci/mariadb-up
	$(PYTEST) .venv-django42/bin/pytest $(XDIST) -p no:cacheprovider $(PYTEST_ARGS)

.venv-django42/.installed: pyproject.toml
	-PYTHON=$(PYTHON) bash .ci/mariadb-up --deps-only
	$(PYTHON) -m venv .venv-django42
	.venv-django42/bin/pip install --quiet --upgrade pip
	.venv-django42/bin/pip install --quiet -e ".[test,postgres]" "django>=4.2,<5.0"
	touch $@

## The same suite on Django 6.0, in its own venv, with a Python 3.12+ found by .ci/find-python312
## (Django 6 does not run on 3.11); skipped, saying so, where there is none.
test-django6:
	@python="$$(bash .ci/find-python312)"; \
	if [ -z "$$python" ]; then \
		echo "test-django6: skipped: no Python 3.12 or newer here (Django 6 needs one)"; \
	else \
		$(MAKE) --no-print-directory .venv-django6/.installed PYTHON_DJANGO6="$$python" && \
		{ bash .ci/postgres-up || true; } && \
		{ bash .ci/postgres-replica-up || true; } && \
		{ bash .ci/mariadb-up || true; } && \
		$(PYTEST) .venv-django6/bin/pytest $(XDIST) -p no:cacheprovider $(PYTEST_ARGS); \
	fi

.venv-django6/.installed: pyproject.toml
	-PYTHON=$(PYTHON_DJANGO6) bash .ci/mariadb-up --deps-only
	$(PYTHON_DJANGO6) -m venv .venv-django6
	.venv-django6/bin/pip install --quiet --upgrade pip
	.venv-django6/bin/pip install --quiet -e ".[test,postgres]" "django>=6.0,<6.1"
	touch $@

## Static checks: ruff (lint) and mypy (types of src/djcfg_env).
lint: install
	$(BIN)/pip install --quiet -e ".[lint]"
	$(BIN)/ruff check .
	$(BIN)/mypy

## Build the wheel, install it (not editable) in a fresh venv, and use it from outside the repo.
package-check: install
	rm -rf build/package-check
	$(BIN)/pip wheel --quiet --no-deps -w build/package-check/dist .
	$(PYTHON) -m venv build/package-check/venv
	build/package-check/venv/bin/pip install --quiet build/package-check/dist/*.whl
	cd build/package-check && env -i PATH=/usr/bin:/bin DATABASE_URL=sqlite:///x.sqlite3 SECRET_KEY=x \
		venv/bin/python -c "import djcfg_env, pathlib; assert (pathlib.Path(djcfg_env.__file__).parent / 'py.typed').exists()"
	cd build/package-check && env -i PATH=/usr/bin:/bin DATABASE_URL=sqlite:///x.sqlite3 SECRET_KEY=x \
		venv/bin/python -m djcfg_env check
	cd build/package-check && printf 'from djcfg_env.settings import *\nINSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "djcfg_env"]\n' > pkg_settings.py \
		&& env -i PATH=/usr/bin:/bin PYTHONPATH=. DJANGO_SETTINGS_MODULE=pkg_settings DATABASE_URL=sqlite:///x.sqlite3 SECRET_KEY=x \
		venv/bin/django-admin migrate_all --noinput

## Benchmarks: ratios against baselines measured in the same run.
bench: install
	-bash .ci/postgres-up
	-bash .ci/postgres-replica-up
	-bash .ci/mariadb-up
	$(BIN)/python benchmarks/run.py

postgres:
	bash .ci/postgres-up

clean:
	rm -rf $(VENV) .venv-django42 .venv-django6 .pytest_cache build docs/demo/var/*.sqlite3* docs/demo/var/*.lock

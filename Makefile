# ReLabel. The two commands: `make demo` (the whole app with demo data) and `make test` (the suite).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-local bench bench-smoke load-check lint clean-db

demo: $(STAMP)
	$(PY) manage.py demo

# Two pytest-xdist workers, each with its own test database: 4 min 43 s instead of 8 min 7 s for the whole
# suite on this 2-core machine. Tests that stop the shared embedded PostgreSQL server (marker `outage`) would
# break whatever the other worker runs at that moment, so they run alone afterwards.
test: $(STAMP)
	$(PY) -m pytest -n 2 -m "not outage" && $(PY) -m pytest -m outage

# Local runs keep the test database between runs (pytest-django's --reuse-db; about 2.5 s saved on every run,
# which is most of a targeted one). New migrations still apply; after editing a migration in place, pass
# --create-db once. `make test` (and CI) always builds a fresh one. Extra pytest arguments: ARGS="tests/annotator -x".
test-local: $(STAMP)
	$(PY) -m pytest --reuse-db $(ARGS)

bench: $(STAMP)
	$(PY) -m bench

# Every section at ~2,000 images with a few seconds of API load (about a minute): run by CI so the benchmark
# never rots. It fails only if the benchmark crashes; missed targets are printed, not fatal.
# The load and restart check: 32 annotators for 60 s with a graceful reload and a kill -9 of gunicorn; exits 1 if any
# annotation is lost or duplicated, an image exceeds its overlap, a 5xx or a deadlock shows up.
load-check: $(STAMP)
	$(PY) scripts/load_check.py

bench-smoke: $(STAMP)
	RELABEL_DATABASE_NAME=relabel_bench_smoke $(PY) -m bench --images 2000 --file-images 20 --api-seconds 2 \
		--out var/bench-smoke

# ruff, then mypy (configured in pyproject.toml). mypy's Django plugin loads the settings, which would start the
# embedded PostgreSQL server when DATABASE_URL is unset: a URL it never connects to keeps the check database-free.
lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .
	DATABASE_URL=postgres://typecheck@127.0.0.1:1/typecheck $(VENV)/bin/mypy

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

clean-db:
	rm -rf var/pgdata

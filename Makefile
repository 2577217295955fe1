# ProcLab: two commands.
#   make run    install everything and start the server on http://127.0.0.1:8000 with the bundled lessons
#   make test   install what the tests need and run the whole suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

.PHONY: run test install install-test system-deps lint check bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# Installs only when pyproject.toml changed, so `make run` starts offline once installed (e.g. in the container).
$(VENV)/.installed: $(PY) pyproject.toml
	$(PIP) install --quiet -e .
	touch $@

install: $(VENV)/.installed

run: install
	$(PY) -m app serve --host $${PROCLAB_HOST:-127.0.0.1} --port $${PROCLAB_PORT:-8000}

# Debian's Chromium for the browser tests (never a downloaded browser), Node for the front-end unit tests,
# gcc and the C library's headers for C programs (runs compile main.c with them).
system-deps:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  need=""; \
	  [ -x /usr/bin/chromium ] || need="$$need chromium"; \
	  command -v node >/dev/null || need="$$need nodejs"; \
	  command -v capsh >/dev/null || need="$$need libcap2-bin"; \
	  command -v gcc >/dev/null || need="$$need gcc libc6-dev"; \
	  if [ -n "$$need" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$need >/dev/null; fi; \
	fi

$(VENV)/.installed-test: $(PY) pyproject.toml
	$(PIP) install --quiet -e ".[test]"
	touch $@ $(VENV)/.installed

install-test: system-deps $(VENV)/.installed-test

test: install-test
	$(VENV)/bin/ruff check app tests $(wildcard bench)
	@if command -v node >/dev/null; then node --test tests/js/; fi
	$(PY) -m pytest -q

check: install
	$(PY) -m app check

bench: install-test
	$(PY) -m bench

clean:
	rm -rf $(VENV) data .pytest_cache test-artifacts

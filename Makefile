# ProcLab: two commands.
#   make run    install everything and start the server on http://127.0.0.1:8000 with the bundled lessons
#   make test   install what the tests need and run the whole suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

.PHONY: run test install install-test system-deps lint check bench clean constraints

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

# Node must be at least package.json's engines.node (Debian bookworm's 18.19): say so rather than fail oddly.
NODE_CHECK = const want = require("./package.json").engines.node.replace(">=", "").split(".").map(Number); \
  const have = process.versions.node.split(".").map(Number); \
  if (have[0] < want[0] || (have[0] === want[0] && have[1] < want[1])) { \
    console.error(`node $${process.versions.node} is older than package.json engines.node (>=$${want.join(".")})`); \
    process.exit(1); }

# Everything, including tests/test_container.py (the Docker image, skipped when no engine runs; .ci/run starts one).
test: install-test
	$(VENV)/bin/ruff check app tests $(wildcard bench)
	$(VENV)/bin/mypy
	@if command -v node >/dev/null; then node -e '$(NODE_CHECK)' && node --test tests/js/; \
	  else echo "node not found: the front-end tests (tests/js/) did not run" >&2; exit 1; fi
	$(PY) -m pytest -q

# constraints.txt: the versions installed now, which the image installs (regenerate after changing deps).
constraints: install-test
	( echo "# What the tests passed with; the Dockerfile installs with -c constraints.txt. make constraints rewrites it."; \
	  $(PIP) freeze --exclude-editable | grep -viE '^(proclab|pip|setuptools|wheel)==' ) > constraints.txt

check: install
	$(PY) -m app check

bench: install-test
	$(PY) -m bench

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache test-artifacts build dist *.egg-info

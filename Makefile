# srconvert: the two commands a newcomer needs are `make demo` and `make test`.
# Both set everything up first; `make setup` is idempotent and cheap when done.

PYTHON  ?= python3.11
VENV    := .venv
BIN     := $(VENV)/bin
PY_STAMP   := $(VENV)/.srconvert-setup
NODE_STAMP := node_modules/.srconvert-setup
FIXTURES   := fixtures/build/.stamp
DEMO_OUT   := build/demo

.PHONY: setup demo test fixtures bench bench-onnx clean distclean

setup: $(PY_STAMP) $(NODE_STAMP)

# Python side: a venv at the repo root with the pinned, tested set.
$(PY_STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 (or run: make PYTHON=/path/to/python3.11)" >&2; exit 3; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt setuptools wheel
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	touch $@

# Node side: the runtimes bundles are verified in, from the committed lockfile.
# Install scripts are skipped: none of these packages needs one to work.
$(NODE_STAMP): package.json package-lock.json
	@command -v node >/dev/null && command -v npm >/dev/null || $(MAKE) --no-print-directory node-from-debian
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

.PHONY: node-from-debian
node-from-debian:
	@[ "$$(id -u)" = 0 ] || { echo "error: Node.js and npm are missing; install them (apt-get install nodejs npm) and re-run make" >&2; exit 3; }
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm

$(FIXTURES): $(PY_STAMP) fixtures/make_fixtures.py
	$(BIN)/python fixtures/make_fixtures.py fixtures/build
	touch $@

fixtures: $(FIXTURES)

# Maintainers only: re-export the committed PyTorch ONNX fixtures (needs torch,
# installed here from the dev extra; `pip install torch==2.13.0` takes the
# CPU build these machines carry).
.PHONY: onnx-fixtures
onnx-fixtures: $(PY_STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test,dev]'
	$(BIN)/python fixtures/make_onnx_fixtures.py

demo: setup $(FIXTURES)
	$(BIN)/srconvert convert fixtures/build/rrdn_keras3.keras -o $(DEMO_OUT) --force --tfjs-model layers,graph
	@echo "bundle: $(DEMO_OUT) (open $(DEMO_OUT)/parity.md, $(DEMO_OUT)/manifest.json)"

test: setup $(FIXTURES)
	$(BIN)/python -m pytest

bench-onnx: setup
	$(BIN)/python bench/onnx_import.py

clean:
	rm -rf build fixtures/build .pytest_cache

distclean: clean
	rm -rf $(VENV) node_modules

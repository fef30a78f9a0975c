# One command to set up and run the main job, one to set up and run the tests.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test test-fast bench setup browser clean

$(BIN)/ida: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first, pinned: on these machines 2.13.0 is the local CPU build; an open range would pull a multi-GB CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test]'
	touch $(BIN)/ida

setup: $(BIN)/ida browser

# Headless Chromium for the viewer's browser tests (Debian's packages; nothing else is downloaded).
# Installed when we are root with apt-get; otherwise, or if it fails, those tests skip and say why.
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
		|| echo "chromium not installed: the browser tests will skip"; \
	else echo "no chromium: the browser tests will skip (as root: apt-get install -y chromium chromium-driver)"; fi

demo: setup
	$(BIN)/ida vase

test: setup
	$(BIN)/ruff check ida tests benchmarks examples
	$(BIN)/mypy
	$(BIN)/python -m pytest

# For quick edits: the suite without the tests marked slow (models trained until they learn). CI runs them all.
test-fast: setup
	$(BIN)/python -m pytest -m "not slow"

bench: setup
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) .ida

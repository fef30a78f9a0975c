# One command to set up and run the main job, one to set up and run the tests.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test bench setup clean

$(BIN)/ida: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first, pinned: on these machines 2.13.0 is the local CPU build; an open range would pull a multi-GB CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test]'
	touch $(BIN)/ida

setup: $(BIN)/ida

demo: setup
	$(BIN)/ida vase

test: setup
	$(BIN)/ruff check ida tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) .ida

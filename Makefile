PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test test-fast lint bench clean

$(BIN)/kioku-mesh: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	@touch $@

$(VENV)/.dev: $(BIN)/kioku-mesh
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@

demo: $(BIN)/kioku-mesh
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python scripts/demo.py

test: $(VENV)/.dev
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/python -m pytest

# The edit-test loop: unit and CLI tests, no mesh nodes or MCP servers (see tests/conftest.py),
# on two workers (ADR 0018). The whole suite stays serial: its mesh tests take ports and namespaces.
test-fast: $(VENV)/.dev
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/python -m pytest -m "not slow" -n 2

bench: $(VENV)/.dev
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info

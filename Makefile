PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench clean

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

bench: $(VENV)/.dev
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info

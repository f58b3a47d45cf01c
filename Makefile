# The two set-up commands of the README: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_OUT ?= demo-output

.PHONY: demo test install install-dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e ".[cjk]"

install-dev: $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev,cjk]"

## Install into .venv and run the FineWeb2 recipe on the bundled demo WARC (offline).
demo: install
	$(BIN)/cc-curate run recipes/demo.yaml --input demo/demo.warc.gz --output $(DEMO_OUT)

## Install the dev extras into .venv and run the test suite.
test: install-dev
	$(BIN)/python -m pytest -q tests

clean:
	rm -rf $(DEMO_OUT) .pytest_cache

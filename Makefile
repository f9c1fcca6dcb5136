# Two commands do all the set-up: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q

.PHONY: run test lint bench bench-monitoring simulator clean

$(VENV)/.ok-python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed")'
	$(PYTHON) -m venv $(VENV)
	@touch $@

$(VENV)/.ok-run: $(VENV)/.ok-python pyproject.toml
	$(PIP) install -e .
	@touch $@

$(VENV)/.ok-test: $(VENV)/.ok-run
	$(PIP) install -e '.[test]'
	@touch $@

run: $(VENV)/.ok-run
	$(VENV)/bin/burki-dashboard run

simulator: $(VENV)/.ok-run
	$(VENV)/bin/burki-dashboard simulator --port 8765

lint: $(VENV)/.ok-test
	$(VENV)/bin/ruff check webapp tests bench
	$(VENV)/bin/ruff format --check webapp tests bench
	$(VENV)/bin/mypy --strict webapp

test: lint
	$(VENV)/bin/pytest -q $(PYTEST_ARGS)

bench: $(VENV)/.ok-test
	$(PY) -m bench

bench-monitoring: $(VENV)/.ok-test
	$(PY) -m bench.monitoring

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis

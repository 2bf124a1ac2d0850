# Two entry points for a fresh machine (Python >= 3.11 with venv):
#   make run    install into .venv and open DL Studio on its bundled credit-scoring sample
#   make test   install into .venv (with test tools) and run the whole test suite headless
#   make bundle the double-click app: dist/DL Studio/ and its .tar.gz (packaging/README.md)

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python

.PHONY: run test lint demo bundle clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

run: $(VENV)/.installed
	$(VENV)/bin/dlstudio --sample credit

# Tests run on two workers, each file's tests together (a module's shared run is made once).
test: $(VENV)/.installed
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/lint-imports
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -n 2 --dist loadfile

demo: $(VENV)/.installed
	rm -rf build/demo
	QT_QPA_PLATFORM=offscreen $(VENV)/bin/dlstudio demo --screenshots build/demo
	cp build/demo/*.png docs/screenshots/

# Not part of `make test`: a few minutes of CPU and 1.3 GB. Check it with packaging/smoke.sh.
bundle: $(VENV)/.installed
	$(PY) -m pip install --quiet -e ".[bundle]"
	PY=$(PY) packaging/build.sh

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache

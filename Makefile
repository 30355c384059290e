# The two commands: `make run` installs and starts everything, `make test` installs and runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test install bench bench-dicomweb clean

run: $(STAMP)
	$(BIN)/python manage.py install_viewer
	$(BIN)/python manage.py start

# CI adds coverage to one pass: PYTEST_ADDOPTS="--cov" (the report and its floor are in pyproject.toml).
# The suite runs in TEST_PROCESSES processes (pytest-xdist); `make test TEST_PROCESSES=0` runs it in one.
TEST_PROCESSES ?= 2
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python manage.py install_viewer
	$(BIN)/pytest -n $(TEST_PROCESSES)

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

bench: $(STAMP)
	$(BIN)/python bench/ingest.py

# Pharos's DICOMweb beside Orthanc's plugin; BENCH_DICOMWEB_QUICK=1 for a smoke run.
bench-dicomweb: $(STAMP)
	$(BIN)/python bench/dicomweb.py

clean:
	rm -rf $(VENV) .pytest_cache

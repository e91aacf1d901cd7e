# mlcasebook — two commands for learners: `make lab` and `make test`.
# Every target installs what it needs into .venv (created with the system python3) and skips what is done.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.mlcasebook-installed
ARGS   ?=
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: install lab instructor test test-fast bench release workspace lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	$(BIN)/jupyter server extension enable --sys-prefix nbgrader.server_extensions.formgrader >/dev/null
	$(BIN)/jupyter server extension enable --sys-prefix nbgrader.server_extensions.validate_assignment >/dev/null
	$(BIN)/jupyter server extension enable --sys-prefix nbgrader.server_extensions.assignment_list >/dev/null
	$(BIN)/jupyter server extension enable --sys-prefix nbgrader.server_extensions.course_list >/dev/null
	$(BIN)/jupyter labextension enable --level=sys_prefix @jupyter/nbgrader >/dev/null
	touch $@

install: $(STAMP)

## Learners: set up, copy new notebooks into workspace/ (never overwriting yours), open JupyterLab there,
## without nbgrader's instructor tools (--allow-root is added only when run as root, e.g. in a container).
lab: install
	$(BIN)/mlcasebook lab $(ARGS)

## Instructors: JupyterLab at the course root with nbgrader's Formgrader.
instructor: install
	$(BIN)/mlcasebook instructor $(ARGS)

workspace: install
	$(BIN)/mlcasebook workspace

## Everyone: the whole test suite (unit tests and doctests, grading validity, release sync, nbval on every notebook, ruff).
## nbval runs each notebook's cells in order in one kernel, so notebooks are spread over workers whole (loadscope);
## the tests are shared out by work stealing, so a worker left with the slow grading tests hands some over.
## One BLAS/OpenMP thread per process: two workers already fill two cores, and extra threads only contend
## (a small logistic regression fit is 9x slower with default threads on a busy 2-core machine).
SINGLE_THREADED = OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
test: install
	@status=0; \
	$(SINGLE_THREADED) MPLBACKEND=Agg $(BIN)/python -m pytest -n 2 -p no:cacheprovider --nbval-lax --dist loadscope solutions notebooks $(ARGS) || status=1; \
	$(SINGLE_THREADED) MPLBACKEND=Agg $(BIN)/python -m pytest -n 2 --dist worksteal -p no:cacheprovider --doctest-modules tests src/mlcasebook $(ARGS) || status=1; \
	$(BIN)/ruff check src tests benchmarks || status=1; \
	exit $$status

## Quick loop while writing checks: everything that does not execute a notebook.
test-fast: install
	$(SINGLE_THREADED) $(BIN)/python -m pytest -m "not slow" tests $(ARGS)

## Benchmarks: writes benchmarks/results.json.
bench: install
	MPLBACKEND=Agg $(BIN)/python benchmarks/run.py $(ARGS)

## Authors: regenerate notebooks/ from solutions/ with nbgrader.
release: install
	$(BIN)/mlcasebook release $(ARGS)

lint: install
	$(BIN)/ruff check src tests benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache src/*.egg-info test-artifacts

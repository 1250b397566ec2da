# Two entry points: `make demo` and `make test`. Each bootstraps .venv with the pinned stack.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# One torch thread per process unless the caller says otherwise (see docs: threads).
export OMP_NUM_THREADS ?= 1
export MPLBACKEND ?= Agg

.PHONY: demo test test-slow lint docs bench clean venv jupyter test-plain

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test,docs,dask,efel,arviz,tutorials,nwb,neo]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m brian2modelfitting_sbi.demo --out out/demo

# The default tier (a few minutes); the slow tier executes the notebooks and long tests.
# Test files are spread over TEST_WORKERS processes (pytest-xdist; one torch thread each):
# 2 for the 2-core machines this is measured on, TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= 2
test: $(STAMP)
	$(PY) -m ruff check brian2modelfitting_sbi tests benchmarks
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow -n $(TEST_WORKERS) --dist loadfile

docs: $(STAMP)
	$(PY) -m sphinx -W --keep-going -b html docs docs/_build/html

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

# JupyterLab for the tutorials, in the project's environment (the [jupyter] extra).
jupyter: $(STAMP)
	$(PY) -m pip install --quiet -c constraints.txt -e '.[jupyter]'
	$(VENV)/bin/jupyter lab tutorials

# What a user gets from plain `pip install .` (fresh venv, no constraints): README example and
# the core tests (also run by .ci/run).
test-plain:
	bash .ci/plain_pip.sh

clean:
	rm -rf $(VENV) out docs/_build

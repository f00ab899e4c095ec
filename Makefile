# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python

# The deployed artifact: FC's interpreter and platform (s.yaml runtime python3.12). For another
# runtime: make package FC_PYTHON_VERSION=3.10 (and FC_RUNTIME=python3.10 for s deploy).
FC_PYTHON_VERSION ?= 3.12
FC_PLATFORM       ?= manylinux2014_x86_64
# Deployed code must run on python3.10 (tests/test_tooling.py proves these flags catch 3.11+ code).
VERMIN_FLAGS := --target=3.10- --violations --no-tips --eval-annotations
# Lint what exists (a fresh clone has no empty directories).
LINT_PATHS := $(wildcard functions localcloud tests bench scripts hrctl)

# The Serverless Devs CLI the engine test drives (tests/test_s_engine.py), pinned with its npm
# lock (integrity hashes) in tools/serverless-devs/, installed there: nothing global.
S_TOOLS := tools/serverless-devs
S_STAMP := $(S_TOOLS)/node_modules/.installed

.PHONY: venv tools lock demo test lint package bench mutation clean

# The venv is installed from the development lock, every file hash-checked (pip, setuptools and
# uv included). tests/test_locks.py fails when a lock is stale against requirements*.txt.
$(VENV)/.installed: locks/dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --require-hashes -r locks/dev.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation --no-index -e .
	touch $@

venv: $(VENV)/.installed

$(S_STAMP): $(S_TOOLS)/package.json $(S_TOOLS)/package-lock.json
	cd $(S_TOOLS) && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	touch $@

tools: $(S_STAMP)

demo: venv
	$(PY) -m hrctl.demo

test: venv
	$(PY) -m pytest $(PYTEST_ARGS)

lint: venv
	$(PY) -m ruff check $(LINT_PATHS)
	$(VENV)/bin/vermin $(VERMIN_FLAGS) functions
	$(PY) -m mypy

# build/artifact/ (s.yaml's code) and build/hr-ram-provisioner.zip, from
# locks/runtime-python$(FC_PYTHON_VERSION).txt with --require-hashes
package: venv
	$(PY) scripts/package.py --python-version $(FC_PYTHON_VERSION) --platform "$(FC_PLATFORM)"

# Refresh locks/ after editing requirements*.txt (uv; existing pins kept). UPGRADE=1: move every
# unpinned dependency to its latest release.
lock: venv
	$(PY) scripts/lock.py $(if $(UPGRADE),--upgrade)

# bench/RESULTS.md (about 2 minutes; BENCH_ARGS=--quick for a smoke run)
bench: venv
	$(PY) bench/run.py $(BENCH_ARGS)

# bench/MUTATION.md: cosmic-ray over the security-critical modules, each against the tests that guard it
# (mutation.toml; docs/mutation.md). Slow (hours for every module): never part of `make test` or CI.
# One worker, niced; stops at MUTATION_BUDGET seconds and the next run resumes.
# e.g. make mutation MUTATION_ARGS="--module functions/provisioner/adapters/webhook.py"
MUTATION_BUDGET ?= 3600
mutation: venv
	nice -n 10 $(PY) scripts/mutation.py --budget $(MUTATION_BUDGET) $(MUTATION_ARGS)

clean:
	rm -rf $(VENV) build dist $(S_TOOLS)/node_modules

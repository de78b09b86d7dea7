# Every target creates or refreshes .venv by itself, so each works as the first command on a
# fresh machine that has only Python 3.11, node 20, gcc and git.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: venv demo test lint format synth bench load layer clean constraints mutate

$(STAMP): pyproject.toml constraints.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[train,inference,infra,cli,dev]'
	touch $(STAMP)

venv: $(STAMP)

node_modules/.package-lock.json: package.json
	npm install --no-audit --no-fund --loglevel=error

demo: venv
	bash scripts/demo.sh

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: lint
	$(BIN)/pytest -n 2 -q tests

# Mutation testing of the functions that carry a guarantee (scripts/mutation/guarantees.toml):
# prints surviving mutants, fails on one not explained in equivalent.toml. Slow (about
# 15 minutes on 2 cores), so not part of `make test`. MUTATE_ARGS="--only store.py" narrows it.
mutate: venv
	$(BIN)/python scripts/mutation/run.py $(MUTATE_ARGS)

synth: venv node_modules/.package-lock.json
	npx cdk synth --quiet

layer: venv
	$(BIN)/python layers/build_layer.py --arch arm64

bench: venv
	$(BIN)/python -m benchmarks.run

# The load test on its own (the suite runs the same one): 20,000 one-row predictions from 32
# clients against `mlops local` with iris v2 a canary at 10%; writes benchmarks/results/load.json.
# LOAD_ARGS="--requests 100000 --clients 64" changes the bounds.
load: venv
	$(BIN)/python -m benchmarks.load $(LOAD_ARGS)

# Re-pin every package from the current venv (one set of versions for venv, layer and image).
constraints: venv
	{ echo "# One set of pinned versions for the dev venv, the inference layer and the training image (DESIGN §7)."; \
	  echo "# Regenerate with: make constraints"; \
	  $(BIN)/pip freeze --exclude-editable | sort -f; } > constraints.txt

clean:
	rm -rf $(VENV) cdk.out node_modules layers/build .mlops .mypy_cache .ruff_cache .pytest_cache .mutmut

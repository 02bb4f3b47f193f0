# Everything a person or CI runs. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := venv
BIN := $(VENV)/bin
STACK ?= dev
OUT ?= build/$(STACK)
# State stays in the repo unless a backend is given (Pulumi Cloud, S3, ...).
export PULUMI_BACKEND_URL ?= file://$(CURDIR)/.pulumi-state
export E2E_CACHE ?= $(HOME)/.cache/llamastack-mcp-e2e

.PHONY: help setup system-deps e2e-deps test e2e up preview destroy render verify policy promote bench measure

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 12

$(BIN)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

setup: $(BIN)/.installed  ## create ./venv with the program's and the tests' dependencies

system-deps:  ## Debian packages the tests use (promtool, PostgreSQL)
	bash tools/install-system.sh

e2e-deps:  ## the real MCP server, Llama Stack, OGX and checkov, cached in $(E2E_CACHE)
	bash tools/e2e-deps.sh all

test: setup system-deps e2e-deps  ## the whole test suite (what CI runs)
	$(BIN)/python -m pytest -q tests

e2e: setup system-deps e2e-deps  ## only the end-to-end tests against the real servers
	$(BIN)/python -m pytest -q tests/test_e2e.py

define need_pulumi
	@command -v pulumi >/dev/null 2>&1 || { echo "error: the Pulumi CLI is not installed (https://www.pulumi.com/docs/install/); 'make render' works without it" >&2; exit 1; }
endef

up: setup  ## pulumi up on STACK (default dev)
	$(need_pulumi)
	pulumi stack select --create $(STACK)
	pulumi up --stack $(STACK)

preview: setup  ## pulumi preview on STACK
	$(need_pulumi)
	pulumi stack select --create $(STACK)
	pulumi preview --stack $(STACK)

destroy: setup  ## pulumi destroy on STACK (removes cluster-wide RBAC and SCC too)
	$(need_pulumi)
	pulumi destroy --stack $(STACK)

render: setup  ## write STACK's Kubernetes objects as YAML into OUT, offline
	$(BIN)/python tools/render.py --stack $(STACK) --out $(OUT)

verify: setup  ## check a deployed STACK (or URLs given in ARGS) answers as it should
	$(BIN)/python tools/verify.py --stack $(STACK) $(ARGS)

policy: setup  ## run the policy pack's rules over STACK's objects, offline
	$(BIN)/python tools/policy_check.py --stack $(STACK)

promote: setup  ## carry release settings FROM a stack TO another (ARGS=--check for CI)
	$(BIN)/python tools/promote.py --from $(FROM) --to $(TO) $(ARGS)

bench: setup  ## the program's own overhead against a plain program
	$(BIN)/python tools/bench.py

measure: setup e2e-deps  ## memory and CPU of the real servers, for sizing
	$(BIN)/python tools/measure.py

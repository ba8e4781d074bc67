# stackguard: the two commands are `make up` (the local environment, app served) and `make test`.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
STAGE := tools/stage.sh
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PATH := $(CURDIR)/$(BIN):$(PATH)
APP_VERSION ?= $(shell sed -n 's/^  version: "\(.*\)"/\1/p' inventories/local/group_vars/all/vars.yml)
MOLECULE_SCENARIOS ?= $(sort $(notdir $(patsubst %/molecule.yml,%,$(wildcard molecule/*/molecule.yml))))

.PHONY: help setup toolchain toolchain-reinstall engine apt-proxy images release up down deploy \
        rollback upgrade-stack rollback-stack verify bench bench-fleet test lint unit molecule stack-lock backup restore backup-verify \
        bench-backup dev dev-verify dev-down dev-test

help:
	@echo "make up      - set up and run the local environment; prints the app's URL"
	@echo "make test    - set up and run every check (lint, unit tests, Molecule)"
	@echo "make down    - remove the local environment"
	@echo "make deploy  - deploy the local inventory's pinned release again"
	@echo "make rollback - back to the last known-good release (ROLLBACK_TO=<version> to choose)"
	@echo "make verify  - check every host against its pinned stack (fails on drift)"
	@echo "make upgrade-stack POOL=<web pool> - provision the pool on its stack, deploy, move the traffic to it"
	@echo "make rollback-stack - traffic back to the previous web pool (RETIRE=<pool> CONFIRM=<pool> retires one)"
	@echo "make bench   - benchmarks on the local environment: one table, build/bench/report.json, a chart"
	@echo "make bench-fleet - verify, deploy and rollback at 2, 8 and 16 web hosts (own containers)"
	@echo "make release - build the app's release tarball into build/releases"
	@echo "make stack-lock - record new stack manifest revisions in stacks/stacks.lock"
	@echo "make backup  - a base backup of the local database now (shipped to backup1)"
	@echo "make restore RESTORE_TO='2026-11-30 14:05:00'|latest|<binlog>:<pos> [IN_PLACE=1]"
	@echo "make backup-verify - restore the latest backup into scratch and compare it with live"
	@echo "make bench-backup - base backup and restore times at 10k, 100k and 1M rows, and the RPO"
	@echo "make dev     - a dev environment in Docker from a pinned stack (STACK=<name>@<rev>|<env>)"
	@echo "make dev-verify - the dev containers against the stack's pins (fails on drift)"
	@echo "make dev-down - remove the dev environment"

# --- setup: toolchain, Docker engine, base images (idempotent) ---------------------------------
setup: toolchain engine apt-proxy images

toolchain:
	@bash tools/setup/venv.sh

toolchain-reinstall:
	@STACKGUARD_REINSTALL=1 bash tools/setup/venv.sh

engine:
	@bash tools/setup/docker-engine.sh

apt-proxy:
	@bash tools/setup/apt-proxy.sh

images: engine
	@for release in bullseye bookworm; do bash tools/setup/base-image.sh $$release || exit 1; done

release: toolchain
	@$(BIN)/python tools/build_release.py --source app --out build/releases $(APP_VERSION)

stack-lock: toolchain
	@$(BIN)/python tools/stack_lock.py

# --- the local environment -------------------------------------------------------------------
up: setup release
	@$(BIN)/ansible-playbook playbooks/local-up.yml

down: toolchain
	@$(BIN)/ansible-playbook playbooks/local-down.yml

deploy: toolchain release
	@$(BIN)/ansible-playbook playbooks/deploy.yml

# Back to the last known-good release (or ROLLBACK_TO=<version>); never the database.
rollback: toolchain
	@$(BIN)/ansible-playbook playbooks/rollback.yml $(if $(ROLLBACK_TO),-e rollback_to=$(ROLLBACK_TO))

# A stack upgrade as a blue/green swap: POOL names the new web pool (a group web_<name> under web,
# pinning its stack in group_vars); refused before any host changes if the pinned release does not
# support that stack. Locally the pool's containers are created on the pool's Debian release.
upgrade-stack: setup release
	@$(BIN)/ansible-playbook playbooks/upgrade-stack.yml -e stack_pool=$(POOL)

# The traffic back to the previous web pool (one HAProxy reload); RETIRE=<pool> CONFIRM=<pool>
# retires a pool instead (never the live one).
rollback-stack: toolchain
	@$(BIN)/ansible-playbook playbooks/rollback-stack.yml \
	  $(if $(RETIRE),-e retire_pool=$(RETIRE) -e confirm_retire=$(CONFIRM))

# Every host against its pinned stack; non-zero exit on drift.
verify: toolchain
	@$(BIN)/ansible-playbook playbooks/verify.yml

# --- backups (roles/backup) -------------------------------------------------------------------
# A base backup now on every database host: the program the 23:59 timer runs.
backup: toolchain
	@$(BIN)/ansible db -m ansible.builtin.command -a "stackguard-backup base --kind manual"

# Point in time into the scratch instance beside production (UTC time, latest or a binlog
# position); IN_PLACE=1 replaces the live database after a safety backup. JSON keeps the space.
restore: toolchain
	@test -n "$(RESTORE_TO)" || { echo "make restore RESTORE_TO='2026-11-30 14:05:00'|latest|<binlog>:<pos>"; exit 2; }
	@$(BIN)/ansible-playbook playbooks/restore.yml -e '{"restore_to": "$(RESTORE_TO)"}' \
	  $(if $(IN_PLACE),-e restore_in_place=true)

# The restore test: the latest backup plus binlogs into scratch, compared with live at that point.
backup-verify: toolchain
	@$(BIN)/ansible-playbook playbooks/backup-verify.yml

# --- a developer's environment: Docker only, from the stack an environment pins --------------
# sg-dev-web and sg-dev-db serve app/ at http://127.0.0.1:8090/; their images are built by the
# production roles and rebuilt only when the manifest changes. STACK=<name>@<revision> or
# STACK=<environment> (default: the local inventory's pin, which is production's).
dev: setup
	@$(BIN)/ansible-playbook playbooks/dev-environment.yml $(if $(STACK),-e stack=$(STACK))

# The dev containers against the stack's manifest (stack_verify); non-zero exit on drift.
dev-verify: toolchain
	@$(BIN)/ansible-playbook playbooks/dev-environment.yml -e dev_state=verified $(if $(STACK),-e stack=$(STACK))

dev-down: toolchain
	@$(BIN)/ansible-playbook playbooks/dev-environment.yml -e dev_state=absent

# Benchmarks print figures; they need the local environment (`make up`). deploy.py measures
# deploy, rollback, failover, verify.yml and stack_verify against the floor, under load, and writes
# build/bench/report.json and build/bench/deploy-timeline.svg (see bench/README.md).
bench: up
	@$(BIN)/python bench/version_compare.py
	@$(BIN)/python bench/deploy.py

# The cost as the fleet grows (2, 8, 16 web hosts) in its own containers (sg-bench-*), removed at
# the end; provisioning them takes a while and is not in the figures.
bench-fleet: setup release
	@$(BIN)/python bench/fleet.py

# Backup and restore times at 10k, 100k and 1M rows, and the RPO, in its own containers
# (sg-mol-bak-bench-*), removed at the end.
bench-backup: setup
	@$(BIN)/python bench/backup.py

# --- checks ----------------------------------------------------------------------------------
test:
	@$(STAGE) setup $(MAKE) --no-print-directory setup
	@$(STAGE) lint $(MAKE) --no-print-directory lint
	@$(STAGE) unit $(MAKE) --no-print-directory unit
	@$(STAGE) dev $(MAKE) --no-print-directory dev-test
	@$(STAGE) molecule $(MAKE) --no-print-directory molecule

lint:
	@$(BIN)/yamllint --strict .
	@$(BIN)/ansible-lint --profile production --offline
	@$(BIN)/actionlint -no-color

# The dev environment test builds images and runs containers (minutes): its own stage, dev-test.
unit:
	@$(BIN)/python -m pytest tests/unit tests/integration -q --ignore=tests/integration/test_dev_environment.py

dev-test:
	@$(BIN)/python -m pytest tests/integration/test_dev_environment.py -q

# Every scenario shares molecule/resources/base.yml; `make molecule MOLECULE_SCENARIOS=default`
# runs one.
molecule: release
	@for scenario in $(MOLECULE_SCENARIOS); do \
	  $(STAGE) "molecule $$scenario" $(BIN)/molecule -c molecule/resources/base.yml test -s $$scenario \
	    || exit 1; \
	done

# The Guance marketplace suite. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
# When this make started: `make test`'s summary counts its time from here (setup and builds included).
export SUITE_MAKE_STARTED := $(shell date +%s)

.PHONY: help setup build run test fuzz bench chaos certs protos check-protos fmt clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

setup: ## install missing system packages (PostgreSQL, protoc, libargon2, pkg-config, openssl, ...)
	@scripts/setup.sh

build: setup ## build every executable (debug)
	scripts/swift-build

run: setup ## run the suite on a private PostgreSQL (or DATABASE_URL's server); Ctrl-C stops it
	@scripts/run.sh

test: setup ## run every test against a throwaway PostgreSQL
	@scripts/test.sh

FUZZ_ITERATIONS ?= 2000
ifndef FUZZ_SEED
FUZZ_SEED := $(shell date +%s)
endif
fuzz: setup ## fuzz every public method with many bodies and a new seed (FUZZ_ITERATIONS=2000 FUZZ_SEED=n); findings kept in Tests/Fuzz/corpus/
	@echo "fuzz: seed $(FUZZ_SEED), $(FUZZ_ITERATIONS) bodies per method (make fuzz FUZZ_SEED=$(FUZZ_SEED) sends them again)"
	@SUITE_FUZZ_SEED=$(FUZZ_SEED) SUITE_FUZZ_ITERATIONS=$(FUZZ_ITERATIONS) SUITE_FUZZ_KEEP=1 TEST_FILTER=FuzzTests scripts/test.sh

bench: setup ## release builds and the benchmarks; results in bench/results/
	@scripts/bench.sh

CHAOS_SEEDS ?= 1 2

chaos: setup ## every branch of the flow while services are killed and PostgreSQL sessions ended, for each of CHAOS_SEEDS; then deadlines through the gateway, a login flood, a newcomer during a burst, and PostgreSQL paused and its connections dropped: figures and checks (CHAOS_ARGS="--purchases 100", DB_FAULTS_ARGS="--quick")
	scripts/swift-build
	@for seed in $(CHAOS_SEEDS); do scripts/chaos --seed $$seed $(CHAOS_ARGS) || exit 1; done
	@scripts/deadline-trials
	@scripts/login-flood
	@scripts/newcomer
	@scripts/db-faults $(DB_FAULTS_ARGS)

certs: setup ## a development CA and server/client certificates for TLS under .run/certs
	@scripts/certs.sh

protos: setup ## regenerate the committed Swift code from Protos/
	@scripts/gen-protos.sh

check-protos: setup ## fail when the committed generated code differs from Protos/
	@scripts/check-protos.sh

fmt: ## format the Swift sources with the toolchain's swift-format
	swift format --in-place --recursive --configuration .swift-format Package.swift Sources Tests

clean: ## remove build output and run folders (stops the private PostgreSQL first)
	-@scripts/pg.sh stop .run/pg
	rm -rf .build .build-* .run

# gxhub — every target CI uses is here; `make help` lists them.
SHELL := /bin/bash
GO ?= go
GOFLAGS ?=
export GONOSUMDB := github.com/hyperledger
TEST_TIMEOUT ?= 30m

.DEFAULT_GOAL := help

.PHONY: help
help: ## list targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

.PHONY: build
build: ## build gxhub and gxctl into bin/
	$(GO) build -o bin/ ./cmd/...

.PHONY: run
run: ## run the hub on embedded defaults with demo data
	$(GO) run ./cmd/gxhub serve --demo

.PHONY: federation-demo
federation-demo: ## three local hubs (a province, two cities) with agreements and a cross-level pull ready (docs/FEDERATION.md)
	cmd/gxhub/federation-demo.sh

.PHONY: generate
generate: ## regenerate protobuf, gRPC, gateway and OpenAPI code (offline, pinned tools)
	sdk/api/gen.sh

.PHONY: check-generate
check-generate: ## fail if regenerating would change committed generated code
	sdk/api/check.sh

.PHONY: vet
vet: ## go vet
	$(GO) vet ./...

.PHONY: test-setup
test-setup: ## install what the tests need (idempotent): OpenSSL, npm peers
	.ci/setup.sh

.PHONY: layout
layout: ## the layout of docs/ARCHITECTURE.md: SDK a leaf, domain roots on the standard library, heavy dependencies confined
	$(GO) test -count=1 -run 'TestSDKIsALeaf|TestDomainRootsAreStdlibOnly|TestHeavyDependenciesConfined|TestRootIsStdlibOnly' ./docs/ ./ledger/
	$(GO) test -count=1 -run 'TestBusinessWritesAreAudited|TestClientsGetThePublicMessageOnly' ./exchange/server/ ./exchange/rpc/

.PHONY: test
test: check-generate vet layout ## run every test (race detector on)
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...
	@if [ -f ledger/chaincode/go.mod ]; then cd ledger/chaincode && $(GO) test -race -count=1 ./...; fi

.PHONY: crash
crash: ## long crash-safety run: 20 SIGKILLs of a loaded hub, then check nothing acknowledged was lost
	GXHUB_CRASH_RUNS=20 $(GO) test -count=1 -run TestCrashLosesNothingAcknowledged -v -timeout 30m ./cmd/gxctl/

.PHONY: bench bench-go bench-load
bench: bench-go bench-load ## every figure of docs/BENCHMARKS.md: Go benchmarks, then gxload on SQLite, PostgreSQL and 1-3 replicas

bench-go: ## the go test benchmarks of every package
	$(GO) test -run '^$$' -bench . -benchmem -timeout 60m ./...

bench-load: ## gxload against demo hubs (UNITS lines: hub CPU in crypto units vs the targets): SQLite with paced pulls at RATE (default 600) and at 40/60/80 % of peak, PostgreSQL, replicas
	RATE=$${RATE:-600} LATENCY=1 cmd/gxload/run-load.sh
	STORE=postgres cmd/gxload/run-load.sh
	cmd/gxload/run-replicas.sh

.PHONY: load
load: ## drive a demo hub with gxload (whoami, pull, publish, verify); STORE=postgres, DURATION, CONCURRENCY, RATE
	cmd/gxload/run-load.sh

.PHONY: load-replicas
load-replicas: ## pulls through 1, 2 and 3 hubs on one PostgreSQL schema, then check the shared audit log
	cmd/gxload/run-replicas.sh

FUZZTIME ?= 10m
# Bounded minimization: with the default (60 s per new input) the seal and SES targets,
# whose seeds are tens of KB, spend most of their time minimizing.
FUZZMINIMIZE ?= 100x
.PHONY: fuzz-long
fuzz-long: ## run every fuzz target for FUZZTIME (default 10m) each, one after another
	@set -e; grep -rn --include='*_test.go' '^func Fuzz' . | grep -v '^./ledger/chaincode/' | \
	  sed -E 's#^(.*)/[^/]+:[0-9]+:func (Fuzz[A-Za-z0-9_]*).*#\1 \2#' | sort | \
	  while read -r pkg name; do echo "== $$pkg $$name"; $(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE) "$$pkg"; done

-include testnet/testnet.mk

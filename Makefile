# The two commands a newcomer types are `make demo` and `make test`.
GO ?= go
CONFIG ?= configs/qemu.yaml
RLBUILD = $(GO) run ./cmd/rlbuild

.PHONY: demo deps image boot test vet short build race fuzz

# Install what is missing, build the default image and boot it in QEMU.
demo: deps image boot

deps:
	scripts/install-deps.sh

image:
	$(RLBUILD) image --config $(CONFIG)

boot:
	$(RLBUILD) boot --config $(CONFIG)

build:
	$(GO) build -o rlbuild ./cmd/rlbuild

# gofmt, go vet, staticcheck (pinned as a tool in go.mod), a tidy go.mod,
# and every fuzz target for a short time (FUZZTIME, default 2s).
vet:
	test -z "$$(gofmt -l .)" || { gofmt -l .; exit 1; }
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	$(GO) mod tidy -diff
	GO=$(GO) scripts/fuzz.sh

# Every test, QEMU boots included, then the concurrent packages again
# under the race detector.
test: vet
	$(GO) test -timeout 40m ./...
	$(MAKE) race

RACE_PKGS = ./kernel/domain/... ./kernel/rref ./kernel/shadow ./kernel/faults ./system/... ./services/... \
	./kernel/loader ./kernel/console ./kernel/netup ./net/... \
	./kernel/boot ./kernel/internal/... ./drivers/... ./rv6/... ./console ./shell/... ./apps/... ./internal/faultcampaign ./lab/engine/... ./lab/report
race:
	$(GO) test -race -short -timeout 20m $(RACE_PKGS)

fuzz:
	GO=$(GO) FUZZTIME=$(or $(FUZZTIME),30s) scripts/fuzz.sh

# Unit tests only: no QEMU boots.
short:
	$(GO) test -short ./...

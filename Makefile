# The two commands a newcomer types are `make demo` and `make test`.
GO ?= go
CONFIG ?= configs/qemu.yaml
RLBUILD = $(GO) run ./cmd/rlbuild

.PHONY: demo deps image boot test vet short build race

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

vet:
	$(GO) vet ./...
	test -z "$$(gofmt -l .)" || { gofmt -l .; exit 1; }

# Every test, QEMU boots included, then the concurrent packages again
# under the race detector.
test: vet
	$(GO) test -timeout 40m ./...
	$(MAKE) race

RACE_PKGS = ./kernel/domain/... ./kernel/rref ./kernel/shadow ./kernel/faults ./kernel/system \
	./kernel/loader ./kernel/console ./kernel/monitor ./kernel/netup ./net/... \
	./kernel/boot ./drivers/... ./rv6/... ./console ./lab/engine/... ./lab/report
race:
	$(GO) test -race -short -timeout 20m $(RACE_PKGS)

# Unit tests only: no QEMU boots.
short:
	$(GO) test -short ./...

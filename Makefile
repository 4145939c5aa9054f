# The two commands a newcomer types are `make demo` and `make test`.
GO ?= go
CONFIG ?= configs/qemu.yaml
RLBUILD = $(GO) run ./cmd/rlbuild

.PHONY: demo deps image boot test vet short build

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

# Every test, QEMU boots included.
test: vet
	$(GO) test -timeout 40m ./...

# Unit tests only: no QEMU boots.
short:
	$(GO) test -short ./...

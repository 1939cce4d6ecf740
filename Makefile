# ferrocni — build, test, demo, bench. Run as root on Debian/Ubuntu.
# Every target that needs system packages installs them (apt) when missing.

SHELL := /bin/bash
CARGO ?= cargo
CNI_BIN_DIR ?= /opt/cni/bin
BINDIR ?= /usr/local/bin
REF_CNI_DIR ?= /usr/lib/cni
PLUGINS := bridge host-local portmap loopback firewall
BINARIES := $(PLUGINS) cgroup-hook ferrocni

.PHONY: all build release deps test unit integration conformance demo bench install lint fmt clean soak fuzz readme

all: build

# System packages the tests, demo and benchmarks need. apt only when one is missing.
APT_PKGS = iproute2 nftables iptables containernetworking-plugins hyperfine socat procps iputils-ping $(EXTRA_APT_PKGS)
deps:
	@./scripts/ensure-packages.sh $(APT_PKGS)

build:
	$(CARGO) build --workspace --bins

release:
	$(CARGO) build --release --workspace --bins

unit: build
	$(CARGO) test --workspace --exclude integration --exclude conformance

integration: deps build
	$(CARGO) test -p integration -- --test-threads=4

conformance: deps build
	$(CARGO) run -q -p conformance -- --bin-dir $(or $(CNI_BIN_DIR_UNDER_TEST),target/debug) --ref-dir $(REF_CNI_DIR)

test: deps build
	$(CARGO) test --workspace --no-fail-fast -- --test-threads=4
	$(MAKE) --no-print-directory conformance
	@$(MAKE) --no-print-directory test-extra

demo: deps build
	./scripts/demo.sh

bench: deps release
	@$(MAKE) --no-print-directory bench-extra

install: release
	install -d $(DESTDIR)$(CNI_BIN_DIR)
	for b in $(PLUGINS); do install -m 0755 target/release/$$b $(DESTDIR)$(CNI_BIN_DIR)/$$b; done
	install -d $(DESTDIR)$(BINDIR)
	install -m 0755 target/release/ferrocni target/release/cgroup-hook $(DESTDIR)$(BINDIR)/

# README.md is generated from docs/ (docs/readme/head.md, docs/*.md, docs/readme/tail.md).
readme:
	./scripts/build-readme.sh

lint:
	./scripts/build-readme.sh --check
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

clean:
	$(CARGO) clean

# Components add their own steps to these through mk/*.mk (test-extra, bench-extra, soak, fuzz).
.PHONY: test-extra bench-extra
test-extra::
	@true
bench-extra::
	@true
soak::
	@true
fuzz::
	@true

-include mk/*.mk

# Reliability (issue 8): fuzzing, hostile-input catalogue, crash injection and
# the concurrency soak. All of it lives in fuzz/, a standalone workspace
# (cargo --manifest-path fuzz/Cargo.toml, its own fuzz/target dir). The
# network tests run the plugins from target/debug (built by `make build`)
# inside namespaces they create, never in the host's own.
#
#   make test   short runs: FUZZ_TEST_SECONDS per fuzz target (2 at a time),
#               regression replays, hostile catalogue, REL_CRASH_TEST crash
#               iterations, REL_SOAK_TEST_SECONDS of concurrency soak
#   make fuzz   FUZZ_SECONDS per target (default 300), FUZZ_JOBS at a time
#   make soak   REL_CRASH_SOAK crash iterations + REL_SOAK_SECONDS of soak

REL_CARGO := $(CARGO)
REL_MANIFEST := --manifest-path fuzz/Cargo.toml --target-dir $(CURDIR)/fuzz/target
REL_BIN_DIR ?= $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)/debug
REL_ENV := FERROCNI_BIN_DIR=$(REL_BIN_DIR)
FUZZ_SECONDS ?= 300
FUZZ_TEST_SECONDS ?= 10
FUZZ_JOBS ?= 2
FUZZ_SEED ?=
# make test's slice replays a fixed seed (reproducible CI; inputs are a prefix
# of the same sequence on any machine); make fuzz explores fresh seeds.
FUZZ_TEST_SEED ?= 20261130
REL_CRASH_TEST ?= 200
REL_CRASH_SOAK ?= 3000
REL_SOAK_TEST_SECONDS ?= 30
REL_SOAK_SECONDS ?= 1800

.PHONY: rel-build rel-fuzz-short rel-fuzz rel-tests rel-crash-short rel-crash rel-soak-short rel-soak

rel-build:
	$(REL_CARGO) build -q $(REL_MANIFEST) --bins

rel-fuzz-short: rel-build
	fuzz/target/debug/ferrocni-fuzz --seconds $(FUZZ_TEST_SECONDS) --jobs $(FUZZ_JOBS) --seed $(or $(FUZZ_SEED),$(FUZZ_TEST_SEED))

rel-fuzz: rel-build
	fuzz/target/debug/ferrocni-fuzz --seconds $(FUZZ_SECONDS) --jobs $(FUZZ_JOBS) $(if $(FUZZ_SEED),--seed $(FUZZ_SEED))

# regression replays + hostile-input catalogue (+ unit tests of the tooling)
rel-tests:
	$(REL_ENV) $(REL_CARGO) test -q $(REL_MANIFEST) -- --test-threads=2

rel-crash-short: rel-build
	$(REL_ENV) fuzz/target/debug/ferrocni-crash --iterations $(REL_CRASH_TEST)

rel-crash: rel-build
	$(REL_ENV) fuzz/target/debug/ferrocni-crash --iterations $(REL_CRASH_SOAK)

rel-soak-short: rel-build
	$(REL_ENV) fuzz/target/debug/ferrocni-soak --seconds $(REL_SOAK_TEST_SECONDS)

rel-soak: rel-build
	$(REL_ENV) fuzz/target/debug/ferrocni-soak --seconds $(REL_SOAK_SECONDS)

test-extra:: rel-fuzz-short rel-tests rel-crash-short rel-soak-short

fuzz:: rel-fuzz

soak:: rel-crash rel-soak

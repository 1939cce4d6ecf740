# firewall plugin: listeners in the integration tests are python3 (stdlib).
EXTRA_APT_PKGS += python3

# Benchmark hooked into `make bench` (which builds --release first): firewall
# ADD with 1/100/1,000 pods present, ours vs the reference, in a node netns
# the script creates and removes; writes bench/out/firewall.md.
.PHONY: bench-firewall soak-firewall
bench-extra:: bench-firewall

bench-firewall:
	REF_CNI_DIR=$(REF_CNI_DIR) ./plugins/firewall/bench/bench.sh

# Heavy variant of the concurrency test (100s of real pods, repeated).
soak:: soak-firewall

soak-firewall:
	$(CARGO) test -p firewall --test concurrent -- --ignored --test-threads=1

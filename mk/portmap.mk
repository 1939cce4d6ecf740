# portmap plugin: the tests read conntrack tables with conntrack(8) (the
# plugin itself talks ctnetlink directly).
EXTRA_APT_PKGS += conntrack

# Benchmark hooked into `make bench` (which builds --release first): ADD/DEL
# latency with 1/200/2,000 existing mappings, ours (nftables, iptables) vs
# the reference, inside a node netns the script creates and removes; writes
# bench/out/portmap.md.
.PHONY: bench-portmap
bench-extra:: bench-portmap

bench-portmap:
	PM_REF=$(REF_CNI_DIR)/portmap ./plugins/portmap/bench/bench.sh

# 200 pods through the ferrocni CLI (bridge + host-local -> portmap ->
# loopback, all ours): needs the workspace binaries `make test` just built.
.PHONY: test-portmap-cli
test-extra:: test-portmap-cli

test-portmap-cli:
	$(CARGO) test -p portmap --test cli_200 -- --ignored

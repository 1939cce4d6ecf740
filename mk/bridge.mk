# bridge plugin: benchmark hooked into `make bench` (which builds --release first).
# Ours vs the reference (/usr/lib/cni/bridge), 1/50/200 pods on one bridge,
# inside a node netns the script creates and removes; writes bench/out/bridge.md.
.PHONY: bench-bridge
bench-extra:: bench-bridge

bench-bridge:
	REF_CNI_DIR=$(REF_CNI_DIR) ./plugins/bridge/bench/bench.sh

# VLAN (vlan, vlanTrunk, preserveDefaultVlan, VLAN gateway) needs 802.1Q and
# bridge vlan_filtering, which the host kernel lacks: run in the tests/vm
# guest (Debian kernel, ~1 min under TCG).
.PHONY: vm-test-bridge
vm-test-bridge:
	$(CARGO) build -p bridge
	tests/vm/bridge-vlan.sh

test-extra:: vm-test-bridge

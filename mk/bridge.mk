# bridge plugin: benchmark hooked into `make bench` (which builds --release first).
# Ours vs the reference (/usr/lib/cni/bridge), 1/50/200 pods on one bridge,
# inside a node netns the script creates and removes; writes bench/out/bridge.md.
.PHONY: bench-bridge
bench-extra:: bench-bridge

bench-bridge:
	REF_CNI_DIR=$(REF_CNI_DIR) ./plugins/bridge/bench/bench.sh

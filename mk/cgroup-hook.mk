# cgroup-hook: real-kernel tests and demo in a small cgroup v2 VM (tests/vm/).
# The host is hybrid (no unified cgroup2 controllers), so the kernel side runs
# under QEMU (TCG): image built once into tests/vm/cache, ~5 s per boot.

CGROUP_HOOK_VM_PKGS := qemu-system-x86 busybox-static kmod cpio xz-utils gcc libc6-dev jq runc crun
EXTRA_APT_PKGS += $(CGROUP_HOOK_VM_PKGS)

.PHONY: vm-test demo-cgroup cgroup-hook-bin

cgroup-hook-bin:
	$(CARGO) build -p cgroup-hook

# memory.max OOM, pids.max, io.max on /dev/vda, cpu.max, cpuset, freeze/thaw,
# report, rejections leave the cgroup untouched, the non-core class (~1 min)
vm-test: cgroup-hook-bin
	@./scripts/ensure-packages.sh $(CGROUP_HOOK_VM_PKGS)
	tests/vm/run-tests.sh target/debug/cgroup-hook

test-extra:: vm-test

demo-cgroup: cgroup-hook-bin
	@./scripts/ensure-packages.sh $(CGROUP_HOOK_VM_PKGS)
	tests/vm/run-tests.sh --demo target/debug/cgroup-hook

# more property-test cases for the value grammars
fuzz::
	PROPTEST_CASES=20000 $(CARGO) test -p cgroup-hook --lib -- quantity cpuset

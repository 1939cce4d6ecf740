#!/usr/bin/env bash
# Real-kernel tests of cgroup-hook: builds (once, cached in tests/vm/cache) a
# small VM with Debian's kernel and a pure cgroup v2 hierarchy, boots it under
# QEMU with the host's / shared read-only, and runs guest-tests.sh there
# against the given binary. Prints the guest's ok/FAIL lines and a summary;
# exits non-zero on any failure.
#   tests/vm/run-tests.sh [path/to/cgroup-hook]   (default target/debug/cgroup-hook)
#   tests/vm/run-tests.sh --demo [path/to/cgroup-hook]   runs demo.sh instead
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
script=guest-tests.sh
if [ "${1:-}" = --demo ]; then script=demo.sh; shift; fi
BIN=$(realpath -m "${1:-$ROOT/target/debug/cgroup-hook}")
[ -x "$BIN" ] || { echo "vm-test: $BIN missing: build it first (cargo build -p cgroup-hook)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "vm-test: needs root (QEMU 9p passthrough, apt)" >&2; exit 2; }
"$ROOT/scripts/ensure-packages.sh" jq runc crun
"$HERE/build-image.sh"
SHARE=$HERE/cache/share
# The guest sees the host's / but with an empty /tmp (and the checkout may
# live under /tmp): stage what it runs inside the shared folder.
STAGE=$SHARE/tree
rm -rf "$STAGE"
mkdir -p "$STAGE/tests/vm" "$STAGE/plugins/cgroup-hook/examples"
cp "$HERE/$script" "$STAGE/tests/vm/"
cp "$ROOT/plugins/cgroup-hook/examples/cgroup-policy.json" "$STAGE/plugins/cgroup-hook/examples/"
cp "$BIN" "$STAGE/cgroup-hook"
t0=$(date +%s)
set +e
CGVM_SERIAL=1 CGVM_TIMEOUT=${CGVM_TIMEOUT:-300} "$HERE/vm-run.sh" "$SHARE" bash "$STAGE/tests/vm/$script" "$STAGE/cgroup-hook"
rc=$?
set -e
if [ "$script" = guest-tests.sh ]; then
  if [ $rc = 0 ]; then echo "vm-test: PASS ($(( $(date +%s) - t0 )) s, cgroup v2 VM)"; else echo "vm-test: FAIL (exit $rc)" >&2; fi
fi
exit $rc

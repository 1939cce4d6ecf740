#!/bin/bash
# Runs INSIDE the test VM (pure cgroup v2, see run-tests.sh): drives the real
# cgroup-hook binary like a runtime would at createRuntime, against real
# cgroups, and checks the kernel enforces what it wrote.
#   guest-tests.sh /abs/path/to/cgroup-hook
# Prints "ok"/"FAIL" per check and "N passed, M failed"; exit 1 on failure.
set -u
HOOK=${1:?usage: guest-tests.sh /path/to/cgroup-hook}
[ "${CGVM:-}" = 1 ] || { echo "guest-tests.sh: run me inside the VM (tests/vm/run-tests.sh)" >&2; exit 2; }
CG=/sys/fs/cgroup/ferrocni-test
pass=0; fail=0
ok()    { echo "ok   - $*"; pass=$((pass+1)); }
bad()   { echo "FAIL - $*" | tee -a /tmp/guest-tests.out; fail=$((fail+1)); }
check() { local d=$1; shift; if "$@"; then ok "$d"; else bad "$d"; fi; }
# checkx DESC 'shell condition': for compound conditions (evaluated, all parts count)
checkx() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }
now_ms() { local t; t=$(date +%s%N); echo $((t / 1000000)); }
key()   { awk -v k="$2" '$1==k{print $2}' "$1"; }   # value of KEY in a keyed file

POL=/tmp/policy.json
sed 's#/var/lib/containers#/dev/vda#' "$(dirname "$0")/../../plugins/cgroup-hook/examples/cgroup-policy.json" > $POL

mkdir -p $CG
echo "+cpuset +cpu +io +memory +pids" > $CG/cgroup.subtree_control

# start_ctr NAME ANNOTATIONS_JSON CMD...: what a runtime does at create time:
# a cgroup, the container's init in it (held before exec), then the hook
# with the OCI state on stdin. PRESET="file=value ..." plays the runtime's own
# limits. On success the init is released; sets CPID, HOOK_RC, HOOK_ERR.
start_ctr() {
  local name=$1 ann=$2 kv; shift 2
  local cg=$CG/$name fifo=/tmp/$name.go
  mkdir -p "$cg"; mkfifo "$fifo"
  for kv in ${PRESET:-}; do echo "${kv#*=}" > "$cg/${kv%%=*}"; done
  sh -c 'echo $$ > "$1/cgroup.procs"; read -r _ < "$2"; shift 2; exec "$@"' sh "$cg" "$fifo" "$@" &
  CPID=$!
  until grep -qx "$CPID" "$cg/cgroup.procs" 2>/dev/null; do sleep 0.02; done
  local state="{\"ociVersion\":\"1.0.2\",\"id\":\"$name\",\"status\":\"creating\",\"pid\":$CPID,\"bundle\":\"\",\"annotations\":$ann}"
  HOOK_ERR=$(echo "$state" | "$HOOK" --policy $POL 2>&1 >/dev/null); HOOK_RC=$?
  if [ $HOOK_RC = 0 ]; then echo go > "$fifo"; else kill -9 $CPID; wait $CPID 2>/dev/null; fi
}

# --- memory.max: the hook's limit OOM-kills the hog ----------------------------
start_ctr mem '{"memory.max.ferrocni.dev":"32Mi","memory.swap.max.ferrocni.dev":"0"}' tail /dev/zero
check "hook applied memory limits (rc $HOOK_RC) $HOOK_ERR" [ $HOOK_RC = 0 ]
check "memory.max reads 33554432" [ "$(cat $CG/mem/memory.max)" = 33554432 ]
wait $CPID 2>/dev/null; st=$?
check "memory hog OOM-killed (exit $st = 137)" [ $st = 137 ]
check "memory.events oom_kill >= 1" [ "$(key $CG/mem/memory.events oom_kill)" -ge 1 ]
out=$("$HOOK" report $CG/mem)
check "report table shows the OOM kill" grep -q 'oom_kill 1' <<<"$out"

# --- pids.max: forks fail beyond the limit --------------------------------------
start_ctr pids4 '{"pids.max.ferrocni.dev/POD":"4"}' true
checkx "pids.max 4 is below the policy's bound 16: $HOOK_ERR" '[ $HOOK_RC = 1 ] && grep -q "below the node minimum 16" <<<"$HOOK_ERR"'
start_ctr pids '{"pids.max.ferrocni.dev/POD":"16"}' sh -c 'for i in $(seq 24); do sleep 1 & done 2>/dev/null; wait'
check "hook applied pids.max (rc $HOOK_RC) $HOOK_ERR" [ $HOOK_RC = 0 ]
wait $CPID 2>/dev/null
check "pids.max reads 16" [ "$(cat $CG/pids/pids.max)" = 16 ]
check "pids.events max >= 1 (forks refused)" [ "$(key $CG/pids/pids.events max)" -ge 1 ]

# --- io.max on the virtio disk: O_DIRECT writes throttled to 1 MiB/s ------------
t0=$(now_ms); dd if=/dev/zero of=/dev/vda bs=64k count=64 oflag=direct status=none; t1=$(now_ms)
base=$((t1 - t0))
start_ctr io '{"io.max.ferrocni.dev":"/dev/vda wbps=1Mi"}' dd if=/dev/zero of=/dev/vda bs=64k count=64 oflag=direct status=none
check "hook applied io.max (rc $HOOK_RC) $HOOK_ERR" [ $HOOK_RC = 0 ]
t0=$(now_ms); wait $CPID; t1=$(now_ms); dt=$((t1 - t0))
check "io.max reads '254:0 ... wbps=1048576'" grep -q '^254:0 rbps=max wbps=1048576 ' $CG/io/io.max
checkx "4 MiB write at wbps=1Mi took ${dt} ms (>= 3000, unthrottled ${base} ms)" '[ $dt -ge 3000 ] && [ $dt -gt $base ]'
json=$("$HOOK" report $CG/io --json)
wb=$(jq '.io[] | select(.device=="254:0") | .wbytes' <<<"$json")
checkx "report --json: io wbytes $wb >= 4194304, device name vda" '[ "${wb:-0}" -ge 4194304 ] && [ "$(jq -r ".io[0].name" <<<"$json")" = vda ]'

# --- cpu.max: a busy loop gets at most ~20% of a CPU -----------------------------
start_ctr cpu '{"cpu.max.ferrocni.dev":"20%@10ms"}' timeout 2 sh -c 'while :; do :; done'
check "hook applied cpu.max (rc $HOOK_RC) $HOOK_ERR" [ $HOOK_RC = 0 ]
wait $CPID 2>/dev/null
check "cpu.max reads '2000 10000'" [ "$(cat $CG/cpu/cpu.max)" = "2000 10000" ]
json=$("$HOOK" report $CG/cpu --json)
used=$(jq '.cpu.stat.usage_usec' <<<"$json"); thr=$(jq '.cpu.stat.nr_throttled' <<<"$json")
checkx "report: busy loop used ${used} us of 2 s (< 35%), throttled $thr periods (> 0)" '[ "$used" -gt 0 ] && [ "$used" -lt 700000 ] && [ "$thr" -gt 0 ]'

# --- cpuset.cpus ------------------------------------------------------------------
start_ctr cpuset '{"cpuset.cpus.ferrocni.dev":"1"}' sleep 0.5
check "hook applied cpuset.cpus (rc $HOOK_RC) $HOOK_ERR" [ $HOOK_RC = 0 ]
check "task pinned to CPU 1" [ "$(awk '/^Cpus_allowed_list/{print $2}' /proc/$CPID/status)" = 1 ]
wait $CPID

# --- every other knob's write format is accepted by the kernel -------------------
start_ctr misc '{"memory.high.ferrocni.dev":"24Mi","memory.max.ferrocni.dev":"32Mi","memory.swap.max.ferrocni.dev":"0","memory.oom.group.ferrocni.dev":"true","cpu.weight.ferrocni.dev":"50","io.weight.ferrocni.dev":"default 40","cpuset.mems.ferrocni.dev":"0"}' true
check "hook applied 7 knobs (rc $HOOK_RC) $HOOK_ERR" [ $HOOK_RC = 0 ]
got="$(cat $CG/misc/memory.high) $(cat $CG/misc/memory.swap.max) $(cat $CG/misc/memory.oom.group) $(cat $CG/misc/cpu.weight) $(head -1 $CG/misc/io.weight) $(cat $CG/misc/cpuset.mems)"
check "kernel reads back: $got" [ "$got" = "25165824 0 1 50 default 40 0" ]
start_ctr idle '{"cpu.idle.ferrocni.dev":"1"}' true
check "cpu.idle applied (rc $HOOK_RC) $HOOK_ERR" [ "$HOOK_RC:$(cat $CG/idle/cpu.idle)" = 0:1 ]

# --- a write the kernel refuses: everything already written is undone ------------
# (per-device io.weight needs iocost on the disk: EOPNOTSUPP on this VM's disk)
start_ctr undo '{"memory.max.ferrocni.dev":"64Mi","pids.max.ferrocni.dev":"100","io.weight.ferrocni.dev":"/dev/vda 20"}' true
checkx "kernel EOPNOTSUPP fails the container: $HOOK_ERR" '[ $HOOK_RC = 1 ] && grep -q "not supported" <<<"$HOOK_ERR" && grep -q undone <<<"$HOOK_ERR"'
checkx "undone: memory.max and pids.max back to max" '[ "$(cat $CG/undo/memory.max):$(cat $CG/undo/pids.max)" = max:max ]'

# --- freeze / thaw (by path, by pid) --------------------------------------------
start_ctr frz '{"pids.max.ferrocni.dev":"100"}' sleep 30
out=$("$HOOK" freeze $CG/frz 2>&1)
check "freeze: $out; cgroup.events frozen 1" [ "$(key $CG/frz/cgroup.events frozen)" = 1 ]
check "report shows frozen true" [ "$("$HOOK" report $CPID --json | jq .frozen)" = true ]
out=$("$HOOK" thaw $CPID 2>&1)
check "thaw by pid: $out; frozen 0" [ "$(key $CG/frz/cgroup.events frozen)" = 0 ]
kill $CPID; wait $CPID 2>/dev/null

# --- rejections leave the cgroup untouched ---------------------------------------
start_ctr rej '{"memory.max.ferrocni.dev":"64Mi","pids.max.ferrocni.dev":"1.5Gb"}' true
checkx "bad value rejected (rc $HOOK_RC, one line): $HOOK_ERR" '[ $HOOK_RC = 1 ] && [ "$(wc -l <<<"$HOOK_ERR")" = 1 ]'
checkx "rejected: memory.max and pids.max still max" '[ "$(cat $CG/rej/memory.max)" = max ] && [ "$(cat $CG/rej/pids.max)" = max ]'
PRESET="memory.max=67108864" start_ctr tight '{"memory.max.ferrocni.dev":"128Mi","cpu.weight.ferrocni.dev":"50"}' true
checkx "looser than the runtime's memory.max rejected: $HOOK_ERR" '[ $HOOK_RC = 1 ] && grep -q looser <<<"$HOOK_ERR"'
checkx "tighten-only: memory.max still 67108864, cpu.weight still 100" '[ "$(cat $CG/tight/memory.max)" = 67108864 ] && [ "$(cat $CG/tight/cpu.weight)" = 100 ]'
start_ctr dry '{"memory.max.ferrocni.dev":"64Mi","mode.ferrocni.dev":"dry-run"}' true
checkx "dry-run annotation: exit 0, memory.max still max ($HOOK_ERR)" '[ $HOOK_RC = 0 ] && [ "$(cat $CG/dry/memory.max)" = max ] && grep -q "would write" <<<"$HOOK_ERR"'
start_ctr pause '{"io.kubernetes.cri.container-type":"sandbox","memory.max.ferrocni.dev":"64Mi"}' true
checkx "sandbox container skipped" '[ $HOOK_RC = 0 ] && [ "$(cat $CG/pause/memory.max)" = max ]'
start_ctr anon '{"io.max.ferrocni.dev":"/ wbps=1Mi"}' true
checkx "io.max on an anonymous device (9p/overlay root) refused: $HOOK_ERR" '[ $HOOK_RC = 1 ] && grep -q "anonymous device" <<<"$HOOK_ERR" && [ -z "$(cat $CG/anon/io.max)" ]'

# --- the policy's non-core class ---------------------------------------------------
start_ctr noncore '{"io.kubernetes.cri.container-name":"app","class.ferrocni.dev/POD":"non-core"}' sleep 0.2
check "class non-core applied (rc $HOOK_RC) $HOOK_ERR" [ $HOOK_RC = 0 ]
checkx "non-core: memory.max 1Gi, /dev/vda wbps 1Mi" '[ "$(cat $CG/noncore/memory.max)" = 1073741824 ] && grep -q "^254:0 rbps=max wbps=1048576 " $CG/noncore/io.max'
wait $CPID

# --- real runtimes: runc and crun run the hook at createRuntime ------------------
B=/tmp/bundle
mkdir -p $B/rootfs/bin && cp /bin/busybox $B/rootfs/bin/
# rt_config ANNOTATIONS_JSON CGROUP: an OCI bundle config with our hook
rt_config() {
  (cd $B && rm -f config.json && runc spec) && jq --arg hook "$HOOK" --arg pol $POL --argjson ann "$1" --arg cg "$2" \
    '.process.args=["/bin/busybox","sleep","30"] | .process.terminal=false | .root.readonly=false
     | .linux.cgroupsPath=$cg | .annotations=$ann
     | .hooks={"createRuntime":[{"path":$hook,"args":["cgroup-hook","--policy",$pol],"timeout":5}]}' \
    $B/config.json > $B/c.json && mv $B/c.json $B/config.json
}
for rt in runc crun; do
  if ! command -v $rt >/dev/null; then bad "$rt not installed (scripts/ensure-packages.sh runc crun)"; continue; fi
  rt_config '{"memory.max.ferrocni.dev":"48Mi","pids.max.ferrocni.dev":"64"}' /rt/$rt-ok
  # (the container keeps its stdio: a file, not a pipe we would wait on)
  (cd $B && $rt create $rt-ok >/tmp/rt.out 2>&1); rc=$?; out=$(cat /tmp/rt.out)
  checkx "$rt create with the hook (rc $rc) $out" '[ $rc = 0 ] && [ "$(cat /sys/fs/cgroup/rt/$rt-ok/memory.max)" = 50331648 ] && [ "$(cat /sys/fs/cgroup/rt/$rt-ok/pids.max)" = 64 ]'
  $rt delete -f $rt-ok >/dev/null 2>&1
  rt_config '{"memory.max.ferrocni.dev":"1.5Gb"}' /rt/$rt-bad
  (cd $B && $rt create $rt-bad >/tmp/rt.out 2>&1); rc=$?; out=$(cat /tmp/rt.out)
  checkx "$rt create fails on a bad annotation (rc $rc): $(tail -c 160 <<<"$out")" '[ $rc != 0 ] && ! $rt state $rt-bad >/dev/null 2>&1'
  $rt delete -f $rt-bad >/dev/null 2>&1
done

echo "$pass passed, $fail failed"
[ $fail = 0 ] || { echo "failed checks:"; grep -a '^FAIL' /tmp/guest-tests.out 2>/dev/null; }
[ $fail = 0 ]

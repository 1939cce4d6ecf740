#!/bin/bash
# Runs INSIDE the test VM (tests/vm/run-tests.sh --demo): a "container"
# started in a cgroup with the policy's non-core class, the limits the hook
# applies, the workload feeling them, and `cgroup-hook report` on it.
set -eu
HOOK=${1:?usage: demo.sh /path/to/cgroup-hook}
POL=/tmp/cgroup-policy.json
CG=/sys/fs/cgroup/kubepods/pod-demo/app
say() { printf '\n== %s\n' "$*"; }

sed 's#/var/lib/containers#/dev/vda#' "$(dirname "$0")/../../plugins/cgroup-hook/examples/cgroup-policy.json" > $POL
say "node policy: classes (the non-core disk path is the VM's virtio disk /dev/vda)"
jq -c '.classes' $POL

say "runtime: cgroup $CG, container init held before exec"
mkdir -p $CG
echo "+cpu +io +memory +pids" > /sys/fs/cgroup/cgroup.subtree_control
echo "+cpu +io +memory +pids" > /sys/fs/cgroup/kubepods/cgroup.subtree_control
echo "+cpu +io +memory +pids" > /sys/fs/cgroup/kubepods/pod-demo/cgroup.subtree_control
mkfifo /tmp/go
sh -c 'echo $$ > "$1/cgroup.procs"; read -r _ < /tmp/go; shift
  exec sh -c "dd if=/dev/zero of=/dev/vda bs=64k count=32 oflag=direct status=none
              dd if=/dev/zero of=/dev/null bs=48M count=1 status=none
              i=0; while [ \$i -lt 20000 ]; do i=\$((i+1)); done; sleep 30"' sh $CG &
PID=$!
until grep -qx $PID $CG/cgroup.procs 2>/dev/null; do sleep 0.02; done
echo "memory.max=$(cat $CG/memory.max)  io.max='$(cat $CG/io.max)'"

STATE="{\"ociVersion\":\"1.0.2\",\"id\":\"demo\",\"status\":\"creating\",\"pid\":$PID,\"bundle\":\"\",
 \"annotations\":{\"io.kubernetes.cri.container-name\":\"app\",\"io.kubernetes.cri.sandbox-name\":\"demo\",
 \"io.kubernetes.cri.sandbox-namespace\":\"default\",\"class.ferrocni.dev/POD\":\"non-core\"}}"
say "createRuntime hook: cgroup-hook --policy $POL -v  < state {pid: $PID, class.ferrocni.dev/POD: non-core}"
echo "$STATE" | "$HOOK" --policy $POL -v
echo "memory.max=$(cat $CG/memory.max)  io.max='$(cat $CG/io.max)'"

say "a rejected pod: memory.max.ferrocni.dev/app=1.5Gb (nothing written, container fails)"
echo "${STATE/non-core\"/non-core\",\"memory.max.ferrocni.dev/app\":\"1.5Gb\"}" | "$HOOK" --policy $POL || echo "(exit $?)"

say "container starts: writes 2 MiB O_DIRECT to /dev/vda (throttled to 1 MiB/s), touches 48 MiB, spins"
t0=$(date +%s%N); echo go > /tmp/go
while [ "$(awk '$1=="254:0"{for(i=2;i<=NF;i++) if ($i ~ /^wbytes=/) {sub("wbytes=","",$i); print $i}}' $CG/io.stat)" != 2097152 ]; do sleep 0.1; done
echo "2 MiB written in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
sleep 1.5

say "cgroup-hook report $PID"
"$HOOK" report $PID
say "cgroup-hook report $CG --json | jq .memory"
"$HOOK" report $CG --json | jq -c .memory
kill $PID

#!/usr/bin/env bash
# portmap ADD and DEL latency with 1, 200 and 2,000 existing mappings on the
# node: ours on nftables, ours on iptables (reference layout), and the
# reference (/usr/lib/cni/portmap, iptables). Everything runs inside a
# private node netns (the script re-executes itself there), so each sample
# is one fork+exec of the plugin, timed from bash. Medians and ratios go to
# bench/out/portmap.md and stdout.
#
# Existing mappings: for ours on nftables they are made by our own ADD (real
# state); for iptables they are written in the reference layout with one
# iptables-restore (CNI-HOSTPORT-DNAT entry + CNI-DN-<hash> chain each), which
# both ours-iptables and the reference read and extend.
#
# Env: PM_OURS, PM_REF (binaries), PM_SIZES ("1 200 2000"), PM_RUNS (samples
#      for ours, default 21), PM_REF_RUNS (reference samples, default 7).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
OURS=${PM_OURS:-$ROOT/target/release/portmap}
REF=${PM_REF:-/usr/lib/cni/portmap}
SIZES=${PM_SIZES:-"1 200 2000"}
RUNS=${PM_RUNS:-21}
REF_RUNS=${PM_REF_RUNS:-7}
OUT_DIR=$ROOT/bench/out
OUT=$OUT_DIR/portmap.md

if [[ -z ${PM_IN_NODE:-} ]]; then
  for b in "$OURS" "$REF"; do
    [[ -x $b ]] || { echo "bench: $b missing (make release / make deps)" >&2; exit 1; }
  done
  [[ $(id -u) == 0 ]] || { echo "bench: needs root (network namespaces)" >&2; exit 1; }
  NODE=fcni-bench-pm-node-$$
  POD=fcni-bench-pm-pod-$$
  ip netns add "$NODE"
  ip netns add "$POD"
  rc=0
  ip netns exec "$NODE" env PM_IN_NODE=1 PM_POD="/run/netns/$POD" PM_OURS="$OURS" PM_REF="$REF" \
    PM_SIZES="$SIZES" PM_RUNS="$RUNS" PM_REF_RUNS="$REF_RUNS" bash "$0" || rc=$?
  ip netns del "$NODE" || true
  ip netns del "$POD" || true
  exit $rc
fi

# ---- inside the node netns from here on ----
mkdir -p "$OUT_DIR"
WORK=$(mktemp -d /tmp/ferrocni-bench-pm.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
ip link set lo up

conf() { # $1 backend ("" = reference config), $2 host port
  local be=""
  [[ -n $1 ]] && be="\"backend\":\"$1\",\"recordDir\":\"$WORK/records\","
  printf '{"cniVersion":"1.0.0","name":"bench","type":"portmap",%s"capabilities":{"portMappings":true},"runtimeConfig":{"portMappings":[{"hostPort":%d,"containerPort":80,"protocol":"tcp"}]},"prevResult":{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"%s"}],"ips":[{"address":"10.99.%d.%d/16","interface":0}]}}' \
    "$be" "$2" "$PM_POD" $((($2 >> 8) & 255)) $(($2 & 255))
}

call() { # $1 bin, $2 verb, $3 id, $4 conf
  CNI_COMMAND=$2 CNI_CONTAINERID=$3 CNI_NETNS=$PM_POD CNI_IFNAME=eth0 CNI_PATH=/nonexistent \
    "$1" <<<"$4" >/dev/null || { echo "bench: $2 $3 by $1 failed" >&2; exit 1; }
}

now_us() { local t=${EPOCHREALTIME/./}; echo "$t"; }
median() { sort -n "$1" | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2))}'; }
ms() { awk -v u="$1" 'BEGIN {printf "%.1f", u/1000}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f", a/b}'; }

# Sets $ADD_US and $DEL_US: medians of $3 ADD and DEL pairs by $1 on backend $2.
measure() {
  local bin=$1 be=$2 runs=$3 i c t0 t1 t2
  : >"$WORK/add"; : >"$WORK/del"
  for ((i = 0; i < runs; i++)); do
    c=$(conf "$be" $((40000 + i)))
    t0=$(now_us); call "$bin" ADD "bench$i" "$c"
    t1=$(now_us); call "$bin" DEL "bench$i" "$c"
    t2=$(now_us)
    echo $((t1 - t0)) >>"$WORK/add"; echo $((t2 - t1)) >>"$WORK/del"
  done
  ADD_US=$(median "$WORK/add"); DEL_US=$(median "$WORK/del")
}

reset() { nft flush ruleset; rm -rf "$WORK/records"; }

fill_nft() { # $1 mappings, made by our own ADD
  local i
  for ((i = 0; i < $1; i++)); do call "$PM_OURS" ADD "prefill$i" "$(conf nftables $((1000 + i)))"; done
}

fill_ipt() { # $1 mappings in the reference layout, one iptables-restore
  local i p ch
  {
    echo '*nat'
    echo ':CNI-HOSTPORT-DNAT - [0:0]'; echo ':CNI-HOSTPORT-SETMARK - [0:0]'; echo ':CNI-HOSTPORT-MASQ - [0:0]'
    echo '-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT'
    echo '-A OUTPUT -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT'
    echo '-A POSTROUTING -m comment --comment "CNI portfwd requiring masquerade" -j CNI-HOSTPORT-MASQ'
    echo '-A CNI-HOSTPORT-SETMARK -m comment --comment "CNI portfwd masquerade mark" -j MARK --set-xmark 0x2000/0x2000'
    echo '-A CNI-HOSTPORT-MASQ -m mark --mark 0x2000/0x2000 -j MASQUERADE'
    for ((i = 0; i < $1; i++)); do
      p=$((1000 + i)); ch=$(printf 'CNI-DN-%021x' "$i")
      echo ":$ch - [0:0]"
      echo "-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment \"dnat name: \\\"bench\\\" id: \\\"prefill$i\\\"\" -m multiport --dports $p -j $ch"
      echo "-A $ch -s 10.99.0.0/16 -p tcp -m tcp --dport $p -j CNI-HOSTPORT-SETMARK"
      echo "-A $ch -s 127.0.0.1/32 -p tcp -m tcp --dport $p -j CNI-HOSTPORT-SETMARK"
      echo "-A $ch -p tcp -m tcp --dport $p -j DNAT --to-destination 10.99.$((p >> 8)).$((p & 255)):80"
    done
    echo COMMIT
  } | iptables-restore --noflush
}

ROWS=""
for n in $SIZES; do
  reset; fill_nft "$n"
  measure "$PM_OURS" nftables "$RUNS"; na=$ADD_US; nd=$DEL_US
  reset; fill_ipt "$n"
  measure "$PM_OURS" iptables "$RUNS"; ia=$ADD_US; id=$DEL_US
  measure "$PM_REF" "" "$REF_RUNS"; ra=$ADD_US; rd=$DEL_US
  line="| $n | $(ms "$na") / $(ms "$nd") | $(ms "$ia") / $(ms "$id") | $(ms "$ra") / $(ms "$rd") | $(ratio "$ra" "$na")× / $(ratio "$rd" "$nd")× | $(ratio "$ra" "$ia")× / $(ratio "$rd" "$id")× |"
  echo "$line"
  ROWS+="$line"$'\n'
done
reset

{
  echo "# portmap: ADD / DEL latency vs existing mappings"
  echo
  echo "$(date -u +%Y-%m-%dT%H:%MZ), $(uname -r), $(nproc) CPUs; medians in ms of $RUNS samples (reference: $REF_RUNS),"
  echo "one fork+exec per call inside a node netns; one TCP mapping per call."
  echo
  echo "| existing mappings | ours nftables ADD / DEL | ours iptables ADD / DEL | reference ADD / DEL | reference ÷ ours-nft | reference ÷ ours-ipt |"
  echo "|---|---|---|---|---|---|"
  printf '%s' "$ROWS"
} >"$OUT"
echo "bench: wrote $OUT"

#!/usr/bin/env bash
# firewall ADD latency with 1, 100 and 1,000 pods already present on the
# node, inside a node netns the script creates and removes:
#   ours (nftables, the default)  target/release/firewall
#   ours (backend: iptables)      target/release/firewall
#   reference (iptables)          /usr/lib/cni/firewall
# All with ingressPolicy "same-bridge". The N present pods are written
# directly (nft elements / CNI-FORWARD rules, exactly what N ADDs leave).
# Each sample is one ADD of a fresh pod (timed) followed by its DEL (not
# timed). Medians and ratios go to bench/out/firewall.md and stdout.
#
# Env: FW_OURS, FW_REF (binaries), FW_SIZES ("1 100 1000"), FW_RUNS (21).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
OURS=${FW_OURS:-${CARGO_TARGET_DIR:-$ROOT/target}/release/firewall}
REF=${FW_REF:-${REF_CNI_DIR:-/usr/lib/cni}/firewall}
SIZES=${FW_SIZES:-"1 100 1000"}
RUNS=${FW_RUNS:-21}
OUT_DIR=$ROOT/bench/out
OUT=$OUT_DIR/firewall.md

if [[ ${1:-} == --setup || ${1:-} == --sample ]]; then
  # Runs inside a node netns: $2 = impl (nft|ipt|ref), $3 = N (setup) or
  # sample number, $4 = pod netns path.
  mode=$1 impl=$2 arg=$3 pod=$4
  case $impl in
    nft) bin=$OURS backend='' ;;
    ipt) bin=$OURS backend='"backend":"iptables",' ;;
    ref) bin=$REF backend='"backend":"iptables",' ;;
  esac
  conf() { # $1 = address
    printf '{"cniVersion":"1.0.0","name":"bench","type":"firewall",%s"ingressPolicy":"same-bridge","prevResult":{"cniVersion":"1.0.0","interfaces":[{"name":"fwbench0"},{"name":"vethb"},{"name":"eth0","sandbox":"%s"}],"ips":[{"address":"%s/16","interface":2}]}}' "$backend" "$pod" "$1"
  }
  call() { # $1 = verb, $2 = id, $3 = address
    conf "$3" | CNI_COMMAND=$1 CNI_CONTAINERID=$2 CNI_NETNS=$pod CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni "$bin" >/dev/null
  }
  if [[ $mode == --sample ]]; then
    ip=10.201.$((arg >> 8)).$(((arg & 255) + 1))
    t0=$(date +%s%N)
    call ADD "bench$arg" "$ip"
    t1=$(date +%s%N)
    call DEL "bench$arg" "$ip"
    echo $(((t1 - t0) / 1000))
    exit 0
  fi
  n=$arg
  call ADD fill0 10.200.0.1
  if ((n > 1)); then
    if [[ $impl == nft ]]; then
      for ((i = 2; i <= n; i++)); do
        printf 'add element inet ferrocni_firewall pods4 { 10.200.%d.%d comment "fill%d eth0 bench" }\n' $((i >> 8)) $((i & 255)) "$i"
      done | nft -f -
    else
      { echo '*filter'
        for ((i = 2; i <= n; i++)); do
          a=10.200.$((i >> 8)).$((i & 255))/32
          echo "-A CNI-FORWARD -d $a -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
          echo "-A CNI-FORWARD -s $a -j ACCEPT"
        done
        echo COMMIT; } | iptables-restore --noflush
    fi
  fi
  exit 0
fi

for b in "$OURS" "$REF"; do
  [[ -x $b ]] || { echo "bench: $b missing (make release / make deps)" >&2; exit 1; }
done
[[ $(id -u) == 0 ]] || { echo "bench: needs root (network namespaces)" >&2; exit 1; }

PFX=fcni-bench-fw-$$
POD=$PFX-pod
IMPLS="nft ipt ref"
ip netns add "$POD"
cleanup() { for i in $IMPLS pod; do ip netns del "$PFX-$i" 2>/dev/null || true; done; }
trap cleanup EXIT

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# One node netns per implementation, populated with N pods; samples are
# interleaved (nft, ipt, ref, nft, …) so load changes hit all three alike.
measure() { # $1 = N; prints "nft_us ipt_us ref_us"
  local n=$1 i r
  declare -A got
  for i in $IMPLS; do
    ip netns add "$PFX-$i"
    ip netns exec "$PFX-$i" "$0" --setup "$i" "$n" "/run/netns/$POD"
    got[$i]=""
  done
  for ((r = 0; r < RUNS; r++)); do
    for i in $IMPLS; do
      got[$i]+="$(ip netns exec "$PFX-$i" "$0" --sample "$i" "$r" "/run/netns/$POD") "
    done
  done
  for i in $IMPLS; do
    printf '%s ' "$(tr ' ' '\n' <<<"${got[$i]}" | grep . | median)"
    ip netns del "$PFX-$i"
  done
  echo
}

ms() { awk -v us="$1" 'BEGIN {printf "%.1f", us / 1000}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f×", a / b}'; }

mkdir -p "$OUT_DIR"
{
  echo "# firewall ADD with N pods present (median of $RUNS, ms)"
  echo
  echo "Node netns per implementation, ingressPolicy same-bridge; one ADD of a fresh pod per sample, samples interleaved."
  echo
  echo "| pods present | ours (nftables) | ours (iptables mode) | reference (iptables) | reference / ours (nftables) |"
  echo "|---:|---:|---:|---:|---:|"
  for n in $SIZES; do
    read -r nft_us ipt_us ref_us <<<"$(measure "$n")"
    echo "| $n | $(ms "$nft_us") | $(ms "$ipt_us") | $(ms "$ref_us") | $(ratio "$ref_us" "$nft_us") |"
  done
  echo
  echo "ours: $OURS; reference: $REF; $(uname -r); $(nproc) CPUs; $(date -u +%FT%TZ)"
} | tee "$OUT"

#!/usr/bin/env bash
# host-local ADD+DEL latency with 10, 1,000 and 60,000 existing reservations
# in a /16: ours (target/release/host-local) vs the reference
# (/usr/lib/cni/host-local), same work in one run. Medians and ratios go to
# bench/out/host-local.md and stdout.
#
# Reservations are pre-populated by writing the reference's files directly.
# Each sample is one ADD followed by one DEL of a fresh container (two process
# executions, timed together from bash; ours and the reference alternate).
# Ours also reports its one-off index rebuild: the first call after the
# directory was filled behind its back.
#
# Env: HL_OURS, HL_REF (binaries), HL_SIZES ("10 1000 60000"),
#      HL_RUNS (samples per size for ours, default 30),
#      HL_REF_RUNS_BIG (reference samples at >= 10,000, default 8).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
OURS=${HL_OURS:-$ROOT/target/release/host-local}
REF=${HL_REF:-/usr/lib/cni/host-local}
SIZES=${HL_SIZES:-"10 1000 60000"}
RUNS=${HL_RUNS:-30}
REF_RUNS_BIG=${HL_REF_RUNS_BIG:-8}
OUT_DIR=$ROOT/bench/out
OUT=$OUT_DIR/host-local.md

for b in "$OURS" "$REF"; do
  [[ -x $b ]] || { echo "bench: $b missing (make release / make deps)" >&2; exit 1; }
done
[[ $(id -u) == 0 ]] || { echo "bench: needs root (network namespace)" >&2; exit 1; }

WORK=$(mktemp -d /tmp/ferrocni-bench-hl.XXXXXX)
NS=fcni-bench-hl-$$
ip netns add "$NS"
cleanup() { ip netns del "$NS" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

conf() { # $1 = data dir
  printf '{"cniVersion":"1.0.0","name":"bench","type":"host-local","ipam":{"type":"host-local","dataDir":"%s","ranges":[[{"subnet":"10.200.0.0/16"}]]}}' "$1"
}

# Writes $2 reservation files (10.200.0.2 upwards) into data dir $1.
populate() {
  local dir=$1/bench n=$2 i a
  mkdir -p "$dir"
  for ((i = 0; i < n; i++)); do
    a=$((i + 2))
    printf 'prefill%06d\r\neth0' "$i" >"$dir/10.200.$((a >> 8)).$((a & 255))"
  done
  a=$((n + 1))
  printf '10.200.%d.%d' $((a >> 8)) $((a & 255)) >"$dir/last_reserved_ip.0"
}

call() { # $1 bin, $2 verb, $3 id, $4 conf
  CNI_COMMAND=$2 CNI_CONTAINERID=$3 CNI_NETNS=/run/netns/$NS CNI_IFNAME=eth0 \
    CNI_PATH=/nonexistent "$1" <<<"$4" >/dev/null || {
    echo "bench: $2 by $1 failed" >&2
    exit 1
  }
}

now_us() { local t=${EPOCHREALTIME/./}; echo "$t"; }

median() { sort -n "$1" | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2))}'; }

# Times ADD+DEL pairs, ours and the reference interleaved (so load drift on a
# shared machine hits both alike): $1 reservations, $2 ours' runs, $3 the
# reference's runs. Writes medians (µs) to $WORK/ours.med and $WORK/ref.med.
measure() {
  local n=$1 runs=$2 ref_runs=$3 co cr i t0
  co=$(conf "$WORK/ours-$n")
  cr=$(conf "$WORK/ref-$n")
  : >"$WORK/ours.s"
  : >"$WORK/ref.s"
  for ((i = 0; i < runs; i++)); do
    t0=$(now_us)
    call "$OURS" ADD "bench$i" "$co"
    call "$OURS" DEL "bench$i" "$co"
    echo $(($(now_us) - t0)) >>"$WORK/ours.s"
    ((i < ref_runs)) || continue
    t0=$(now_us)
    call "$REF" ADD "bench$i" "$cr"
    call "$REF" DEL "bench$i" "$cr"
    echo $(($(now_us) - t0)) >>"$WORK/ref.s"
  done
  median "$WORK/ours.s" >"$WORK/ours.med"
  median "$WORK/ref.s" >"$WORK/ref.med"
}

ms() { awk -v u="$1" 'BEGIN {printf "%.2f", u/1000}'; }

{
  echo "# host-local: ADD+DEL latency vs existing reservations"
  echo
  echo "One sample = one ADD + one DEL (two process executions) on a /16 that"
  echo "already holds N reservations; medians. $(nproc) CPUs, $(uname -r), $(date -u +%F)."
  echo
  echo "| reservations | ours median (ms) | reference median (ms) | reference / ours | ours first call: index rebuild (ms) |"
  echo "|---:|---:|---:|---:|---:|"
} >"$WORK/table"

for n in $SIZES; do
  for who in ours ref; do
    mkdir -p "$WORK/$who-$n"
    populate "$WORK/$who-$n" "$n"
  done
  # Ours: the first call rebuilds the index from the files written behind its back.
  t0=$(now_us)
  call "$OURS" DEL warmup "$(conf "$WORK/ours-$n")"
  rebuild=$(($(now_us) - t0))
  ref_runs=$RUNS
  ((n >= 10000)) && ref_runs=$REF_RUNS_BIG
  measure "$n" "$RUNS" "$ref_runs"
  ours=$(<"$WORK/ours.med")
  ref=$(<"$WORK/ref.med")
  ratio=$(awk -v r="$ref" -v o="$ours" 'BEGIN {printf "%.1fx", r/o}')
  echo "| $n | $(ms "$ours") | $(ms "$ref") | $ratio | $(ms "$rebuild") |" >>"$WORK/table"
  echo "bench: $n reservations: ours $(ms "$ours") ms, reference $(ms "$ref") ms ($ratio)" >&2
  rm -rf "$WORK/ours-$n" "$WORK/ref-$n"
done

mkdir -p "$OUT_DIR"
cp "$WORK/table" "$OUT"
cat "$OUT"

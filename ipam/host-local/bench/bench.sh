#!/usr/bin/env bash
# host-local ADD+DEL latency with 10, 1,000 and 60,000 existing reservations
# in a /16: ours (target/release/host-local) vs the reference
# (/usr/lib/cni/host-local), same work in one run. Medians and ratios go to
# bench/out/host-local.md and stdout.
#
# Reservations are pre-populated by writing the reference's files directly.
# Each sample is one ADD followed by one DEL of a fresh container (two process
# executions, timed together from bash). Ours also reports its one-off index
# rebuild: the first call after the directory was filled behind its back.
#
# Env: HL_OURS, HL_REF (binaries), HL_SIZES ("10 1000 60000"),
#      HL_RUNS (samples per size for ours, default 30),
#      HL_REF_RUNS_BIG (reference samples at 60,000, default 8).
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

# Prints the median (µs) of $3 ADD+DEL pairs by binary $1 on data dir $2.
measure() {
  local bin=$1 data=$2 runs=$3 c i t0 t1
  c=$(conf "$data")
  : >"$WORK/samples"
  for ((i = 0; i < runs; i++)); do
    t0=$(now_us)
    call "$bin" ADD "bench$i" "$c"
    call "$bin" DEL "bench$i" "$c"
    t1=$(now_us)
    echo $((t1 - t0)) >>"$WORK/samples"
  done
  sort -n "$WORK/samples" | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2))}'
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
  ours=$(measure "$OURS" "$WORK/ours-$n" "$RUNS")
  ref_runs=$RUNS
  ((n >= 10000)) && ref_runs=$REF_RUNS_BIG
  ref=$(measure "$REF" "$WORK/ref-$n" "$ref_runs")
  ratio=$(awk -v r="$ref" -v o="$ours" 'BEGIN {printf "%.1fx", r/o}')
  echo "| $n | $(ms "$ours") | $(ms "$ref") | $ratio | $(ms "$rebuild") |" >>"$WORK/table"
  echo "bench: $n reservations: ours $(ms "$ours") ms, reference $(ms "$ref") ms ($ratio)" >&2
  rm -rf "$WORK/ours-$n" "$WORK/ref-$n"
done

mkdir -p "$OUT_DIR"
cp "$WORK/table" "$OUT"
cat "$OUT"

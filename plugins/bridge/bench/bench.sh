#!/usr/bin/env bash
# Benchmark: bridge ADD and DEL, ferrocni vs the reference plugin, with 1, 50
# and 200 pods on one bridge (isGateway + ipMasq), plus the kernel's floor for
# a DEL (a plain `ip link del` of a bridged veth). Everything runs inside a
# node netns this script creates and removes; the host's own namespace is
# never touched. Output: medians and ratios in bench/out/bridge.md.
#
# Method, per (plugin, size N), on a fresh node netns:
#   N = 1:  15 cycles of ADD one pod / DEL it (the bridge exists after the first);
#   N > 1:  ADD pods 1..N in sequence; "ADD@N" = median of the last 10 ADDs
#           (bridge at N-9..N pods); then "DEL@N" = median of the first 10
#           DELs (bridge at N..N-9 pods); the rest is deleted untimed.
#   floor:  10 x (create a veth with one end in a pod netns, enslaved, up;
#           time `ip link del`), in the same node, before the plugin runs.
# Each call is timed from bash around one process exec (same overhead for all).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
BIN_DIR=${FERROCNI_BIN_DIR:-${CARGO_TARGET_DIR:-$ROOT/target}/release}
REF_DIR=${REF_CNI_DIR:-/usr/lib/cni}
OUT=${BENCH_OUT:-$ROOT/bench/out/bridge.md}
SIZES=${BENCH_SIZES:-"1 50 200"}
TAG="fcb$$"
WORK=$(mktemp -d /tmp/ferrocni-bench-bridge.XXXXXX)
NETNS=()

cleanup() {
  for ns in "${NETNS[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

die() { echo "bench/bridge: $*" >&2; exit 1; }
[ -x "$BIN_DIR/bridge" ] || die "no $BIN_DIR/bridge (run make release)"
[ -x "$REF_DIR/bridge" ] || die "no reference bridge in $REF_DIR"

# Our CNI_PATH: our bridge + our host-local when built, else the reference's.
mkdir -p "$WORK/ours"
ln -s "$BIN_DIR/bridge" "$WORK/ours/bridge"
HL=${FERROCNI_HOST_LOCAL:-$BIN_DIR/host-local}
[ -x "$HL" ] || HL="$REF_DIR/host-local"
ln -s "$HL" "$WORK/ours/host-local"

netns_add() { ip netns add "$1"; NETNS+=("$1"); ip -n "$1" link set lo up; }
netns_del() { ip netns del "$1" 2>/dev/null || true; }

conf() { # $1 = data dir
  cat <<EOF
{"cniVersion":"0.4.0","name":"benchnet","type":"bridge","bridge":"bench0",
 "isGateway":true,"ipMasq":true,"hairpinMode":true,
 "ipam":{"type":"host-local","dataDir":"$1",
         "ranges":[[{"subnet":"10.128.0.0/16"}]],"routes":[{"dst":"0.0.0.0/0"}]}}
EOF
}

median() { grep -v '^cpu' | sort -n | awk '{a[NR]=$1} END {if (NR==0) {print "nan"; exit} m=int((NR+1)/2); if (NR%2) print a[m]; else printf "%.2f\n", (a[m]+a[m+1])/2}'; }

# Runs inside the node netns: times CNI calls; prints one ms value per call.
# args: verb plugin cni_path conf_file first last   (pods "$TAG-p<i>")
cat >"$WORK/calls.sh" <<'EOF'
#!/usr/bin/env bash
set -u
verb=$1 plugin=$2 path=$3 conf=$4 first=$5 last=$6 tag=$7
step=1; [ "$first" -gt "$last" ] && step=-1
for ((i = first; i != last + step; i += step)); do
  t0=$EPOCHREALTIME
  CNI_COMMAND=$verb CNI_CONTAINERID="bench$i" CNI_NETNS="/run/netns/$tag-p$i" \
    CNI_IFNAME=eth0 CNI_PATH=$path "$plugin" <"$conf" >"$conf.out" 2>&1 || {
      echo "FAILED $verb pod $i: $(cat "$conf.out")" >&2; exit 1; }
  t1=$EPOCHREALTIME
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f\n", (b - a) * 1000 }'
done
# CPU of all children (plugin, IPAM, nft/iptables tools): user + sys.
times >"$conf.times"   # a builtin with a redirect: no subshell, real totals
tail -1 "$conf.times" | awk -v n=$(( (last - first) * step + 1 )) '{
  t = 0; for (i = 1; i <= 2; i++) { split($i, p, "m"); sub("s", "", p[2]); t += p[1] * 60 + p[2] }
  printf "cpu %.3f %d\n", t * 1000, n }'
EOF
chmod +x "$WORK/calls.sh"

# Plain veth deletion floor inside node $1 (10 samples).
floor() {
  local node=$1 pod="$TAG-floor"
  netns_add "$pod"
  ip -n "$node" link add flbr type bridge 2>/dev/null || true
  ip -n "$node" link set flbr up
  for i in $(seq 1 10); do
    ip -n "$node" link add "fl$i" type veth peer name eth0 netns "$pod"
    ip -n "$node" link set "fl$i" master flbr up
    ip -n "$pod" link set eth0 up
    nsenter --net="/run/netns/$node" bash -c \
      't0=$EPOCHREALTIME; ip link del '"fl$i"'; t1=$EPOCHREALTIME; awk -v a=$t0 -v b=$t1 "BEGIN{printf \"%.2f\n\", (b-a)*1000}"'
  done
  netns_del "$pod"
}

# Total CPU ms / number of calls over the "cpu <ms> <n>" lines of a file.
cpu_per_call() { awk '$1 == "cpu" { t += $2; n += $3 } END { if (n) printf "%.1f", t / n; else print "-" }' "$1"; }

# One run: plugin label, binary, CNI_PATH, size. Prints "add del floor addcpu delcpu".
run() {
  local label=$1 plugin=$2 path=$3 n=$4
  local node="$TAG-n-$label-$n" data="$WORK/data-$label-$n" cf="$WORK/conf-$label-$n.json"
  netns_add "$node"
  conf "$data" >"$cf"
  local fl; fl=$(floor "$node" | median)
  for i in $(seq 1 "$n"); do netns_add "$TAG-p$i"; done
  local calls=(nsenter --net="/run/netns/$node" "$WORK/calls.sh")
  local add del
  if [ "$n" -eq 1 ]; then
    : >"$WORK/a" ; : >"$WORK/d"
    for _ in $(seq 1 15); do
      "${calls[@]}" ADD "$plugin" "$path" "$cf" 1 1 "$TAG" >>"$WORK/a"
      "${calls[@]}" DEL "$plugin" "$path" "$cf" 1 1 "$TAG" >>"$WORK/d"
    done
  else
    local k=$((n - 9))
    "${calls[@]}" ADD "$plugin" "$path" "$cf" 1 $((k - 1)) "$TAG" >/dev/null
    "${calls[@]}" ADD "$plugin" "$path" "$cf" "$k" "$n" "$TAG" >"$WORK/a"
    "${calls[@]}" DEL "$plugin" "$path" "$cf" "$n" "$k" "$TAG" >"$WORK/d"
    "${calls[@]}" DEL "$plugin" "$path" "$cf" $((k - 1)) 1 "$TAG" >/dev/null
  fi
  add=$(median <"$WORK/a"); del=$(median <"$WORK/d")
  for i in $(seq 1 "$n"); do netns_del "$TAG-p$i"; done
  netns_del "$node"
  echo "$add $del $fl $(cpu_per_call "$WORK/a") $(cpu_per_call "$WORK/d")"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "-" }'; }
diff_ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.1f", a - b }'; }

mkdir -p "$(dirname "$OUT")"
{
  echo "# bridge: ADD / DEL latency, ferrocni vs reference"
  echo
  echo "$(date -u +%Y-%m-%dT%H:%MZ), $(uname -r), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)."
  echo "ferrocni: \`$BIN_DIR/bridge\` (ipMasq: nftables), IPAM \`$HL\`."
  echo "reference: \`$REF_DIR/bridge\` $("$REF_DIR/bridge" 2>&1 | head -1 | tr -d '\n') (ipMasq: iptables), IPAM \`$REF_DIR/host-local\`."
  echo "Config: cniVersion 0.4.0, isGateway, ipMasq, hairpinMode, one bridge; wall time per exec, medians (ms)."
  echo "Floor = \`ip link del\` of a bridged veth whose peer is in a pod netns, same node, same run."
  echo "CPU = user+sys of the plugin and every process it ran (IPAM, nft, iptables), per call:"
  echo "unlike wall time it does not depend on what else the machine is running."
  echo
  echo "| pods on bridge | ours ADD | ref ADD | ADD speed-up | ours DEL | ref DEL | DEL speed-up | veth-del floor | ours DEL − floor | CPU/ADD ours / ref | CPU/DEL ours / ref |"
  echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
} >"$OUT.tmp"
for n in $SIZES; do
  read -r oa od of oac odc < <(run ours "$WORK/ours/bridge" "$WORK/ours" "$n")
  read -r ra rd rf rac rdc < <(run ref "$REF_DIR/bridge" "$REF_DIR" "$n")
  fl=$(printf '%s\n%s\n' "$of" "$rf" | median)
  printf '| %s | %s | %s | %s× | %s | %s | %s× | %s | %s | %s / %s | %s / %s |\n' "$n" "$oa" "$ra" \
    "$(ratio "$ra" "$oa")" "$od" "$rd" "$(ratio "$rd" "$od")" "$fl" "$(diff_ms "$od" "$fl")" \
    "$oac" "$rac" "$odc" "$rdc" >>"$OUT.tmp"
  echo "bench/bridge: N=$n ours ADD $oa DEL $od | ref ADD $ra DEL $rd | floor $fl | CPU ADD $oac/$rac DEL $odc/$rdc (ms)" >&2
done
mv "$OUT.tmp" "$OUT"
echo "bench/bridge: wrote $OUT" >&2

#!/usr/bin/env bash
# bridge plugin VLAN tests on a kernel with 802.1Q and bridge vlan_filtering
# (the CI host has neither), in a throw-away VM (tests/vm/vm-run.sh).
#
#   tests/vm/bridge-vlan.sh [BRIDGE_BIN]     (default target/debug/bridge)
#
# In the guest, inside a node netns: two networks on one bridge, `va` (vlan
# 10, gateway on vbr0.10) and `vb` (vlan 20, preserveDefaultVlan false),
# sharing one IP subnet so only VLAN separation keeps them apart; a trunk
# pod. Checks: PVID/untagged entries on the ports, VLAN 1 kept or removed as
# configured, tagged trunk entries, same-VLAN traffic works, cross-VLAN
# traffic does not, the gateway answers on its VLAN, DEL leaves no port.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

if [ "${1:-}" != --guest ]; then
  BIN=$(realpath -m "${1:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/bridge}")
  [ -x "$BIN" ] || { echo "bridge-vlan: $BIN missing (cargo build -p bridge)" >&2; exit 2; }
  "$HERE/build-image.sh" >/dev/null   # cached after the first run
  WORK=$(mktemp -d /tmp/bridge-vlan.XXXXXX)
  trap 'rm -rf "$WORK"' EXIT
  # The guest's /tmp is empty and the checkout may live there: stage inside WORK.
  cp "$BIN" "$WORK/bridge-bin"; cp "$HERE/bridge-vlan.sh" "$WORK/"
  CGVM_SERIAL=1 CGVM_CGROUP=0 "$HERE/vm-run.sh" "$WORK" bash "$WORK/bridge-vlan.sh" --guest "$WORK/bridge-bin" "$WORK"
  exit $?
fi

BIN=$2 DIR=$3
fail() { echo "bridge-vlan: FAIL: $*" >&2; exit 1; }
mkdir -p "$DIR/bin"
ln -sf "$BIN" "$DIR/bin/bridge"
ln -sf /usr/lib/cni/host-local "$DIR/bin/host-local"
for ns in node a1 a2 b1 t1; do ip netns add "$ns"; ip -n "$ns" link set lo up; done

conf() { # name vlan-json start end gateway extra
  cat <<EOF
{"cniVersion":"1.0.0","name":"$1","type":"bridge","bridge":"vbr0",$2,"isGateway":$5 $6,
 "ipam":{"type":"host-local","dataDir":"$DIR/ipam","ranges":[[{"subnet":"10.10.0.0/24",
 "rangeStart":"10.10.0.$3","rangeEnd":"10.10.0.$4","gateway":"10.10.0.1"}]]}}
EOF
}
cni() { # verb id pod conf
  echo "$4" | nsenter --net=/run/netns/node env CNI_COMMAND="$1" CNI_CONTAINERID="$2" \
    CNI_NETNS="/run/netns/$3" CNI_IFNAME=eth0 CNI_PATH="$DIR/bin" "$DIR/bin/bridge"
}
VA=$(conf va '"vlan":10' 10 19 true '')
VB=$(conf vb '"vlan":20' 20 29 false ',"preserveDefaultVlan":false')
VT=$(conf vt '"vlanTrunk":[{"id":10},{"minID":20,"maxID":22}]' 30 39 false '')

ra1=$(cni ADD a1 a1 "$VA") || fail "ADD a1: $ra1"
ra2=$(cni ADD a2 a2 "$VA") || fail "ADD a2: $ra2"
rb1=$(cni ADD b1 b1 "$VB") || fail "ADD b1: $rb1"
rt1=$(cni ADD t1 t1 "$VT") || fail "ADD t1: $rt1"
port() { echo "$1" | sed 's/.*"name":"\(veth[0-9a-f]*\)".*/\1/'; }
ip_of() { echo "$1" | sed 's/.*"address":"\([0-9.]*\)\/24".*/\1/'; }

vl() { bridge -n node vlan show dev "$1"; }
echo "--- bridge vlan show"; bridge -n node vlan show
vl "$(port "$ra1")" | grep -q "10 PVID Egress Untagged" || fail "a1 port lacks PVID 10 untagged"
vl "$(port "$ra1")" | grep -qE "^\S+\s+1 |\s1$" || fail "a1 port lost VLAN 1 (preserveDefaultVlan defaults to true)"
vl "$(port "$rb1")" | grep -q "20 PVID Egress Untagged" || fail "b1 port lacks PVID 20"
vl "$(port "$rb1")" | grep -qE "(^|\s)1( |$)" && fail "b1 port kept VLAN 1 with preserveDefaultVlan false"
for v in 10 20 21 22; do
  vl "$(port "$rt1")" | grep -qE "(^|\s)$v$" || fail "trunk port lacks tagged VLAN $v"
done
ip -n node -d link show vbr0 | grep -q "vlan_filtering 1" || fail "vlan_filtering off"
ip -n node addr show vbr0.10 | grep -q "10.10.0.1/24" || fail "gateway not on vbr0.10"
echo "$ra1" | grep -q '"name":"vbr0.10"' || fail "result lacks the vlan gateway interface"

ping_ok() { ip netns exec "$1" ping -c1 -W2 "$2" >/dev/null; }
ping_ok a1 "$(ip_of "$ra2")" || fail "a1 -> a2 (same VLAN)"
ping_ok a1 10.10.0.1 || fail "a1 -> gateway on its VLAN"
ping_ok a1 "$(ip_of "$rb1")" && fail "a1 -> b1 crossed VLANs"
ping_ok b1 "$(ip_of "$ra2")" && fail "b1 -> a2 crossed VLANs"

cni DEL a1 a1 "$VA" && cni DEL a2 a2 "$VA" && cni DEL b1 b1 "$VB" && cni DEL t1 t1 "$VT" || fail DEL
left=$(ip -n node -o link show type veth | grep -vc "vbr0.10" || true)
[ "$left" -eq 0 ] || fail "pod ports left: $(ip -n node -o link show type veth)"
echo "bridge-vlan: PASS (vlan, vlanTrunk, preserveDefaultVlan, VLAN gateway, isolation)"

#!/usr/bin/env bash
# Bridge DEL latency of two bridge binaries (before/after the conntrack
# flush), alternating, with a near-empty conntrack table and then with 10,000
# unrelated UDP entries in the node (sent from the node through a veth to a
# static neighbour). Medians of wall and CPU (plugin + IPAM) per DEL.
# Everything runs in namespaces this script creates and removes; the host's
# own namespace is never touched. Needs python3 and the reference host-local.
# Usage: conntrack-del.sh BRIDGE_BEFORE BRIDGE_AFTER [ROUNDS]
set -euo pipefail
B=$1; A=$2; R=${3:-15}
T=fcni-ctb$$; NODE=$T-node; POD=$T-pod
W=$(mktemp -d /tmp/ferrocni-ctdel.XXXXXX)
cleanup() { ip netns del $NODE 2>/dev/null || true; ip netns del $POD 2>/dev/null || true; rm -rf "$W"; }
trap cleanup EXIT
ip netns add $NODE; ip -n $NODE link set lo up
ip netns add $POD; ip -n $POD link set lo up
mkdir -p $W/b $W/a
ln -s "$B" $W/b/bridge; ln -s /usr/lib/cni/host-local $W/b/host-local
ln -s "$A" $W/a/bridge; ln -s /usr/lib/cni/host-local $W/a/host-local
cat >$W/conf <<C
{"cniVersion":"0.4.0","name":"ctb","type":"bridge","bridge":"ctb0","isGateway":true,"ipMasq":true,
 "ipam":{"type":"host-local","dataDir":"$W/ipam","ranges":[[{"subnet":"10.129.0.0/16"}],[{"subnet":"fd00:129::/64"}]]}}
C
call() { # dir verb
  ip netns exec $NODE env CNI_COMMAND=$2 CNI_CONTAINERID=p1 CNI_NETNS=/run/netns/$POD CNI_IFNAME=eth0 CNI_PATH=$W/$1 "$W/$1/bridge" <$W/conf >/dev/null
}
cycle() { # dir -> "wall_ms cpu_ms" of DEL
  call $1 ADD
  local TIMEFORMAT='%3R %3U %3S' t
  t=$( { time call $1 DEL; } 2>&1 )
  echo "$t" | awk '{printf "%.1f %.1f\n", $1*1000, ($2+$3)*1000}'
}
median() { sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]}'; }
run() { # label
  : >$W/tb; : >$W/ta
  for i in $(seq $R); do cycle b >>$W/tb; cycle a >>$W/ta; done
  echo "$1: DEL median wall ms before $(cut -d' ' -f1 $W/tb | median) after $(cut -d' ' -f1 $W/ta | median); CPU ms before $(cut -d' ' -f2 $W/tb | median) after $(cut -d' ' -f2 $W/ta | median) (conntrack count $(ip netns exec $NODE cat /proc/sys/net/netfilter/nf_conntrack_count), load $(cut -d' ' -f1 /proc/loadavg))"
}
call a ADD; call a DEL   # bridge + masq table exist
run "empty table"
ip -n $NODE link add d0 type veth peer name d1; ip -n $NODE addr add 10.200.0.1/30 dev d0
ip -n $NODE link set d0 up; ip -n $NODE link set d1 up
ip -n $NODE neigh add 10.200.0.2 lladdr 02:00:00:00:00:02 dev d0 nud permanent
ip -n $NODE route add 198.18.0.0/16 via 10.200.0.2 dev d0
ip netns exec $NODE sysctl -qw net.netfilter.nf_conntrack_udp_timeout=600
ip netns exec $NODE python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(10000):
    s.sendto(b"x", ("198.18.%d.%d" % (1 + i // 250, 1 + i % 250), 9))
'
run "10k entries"

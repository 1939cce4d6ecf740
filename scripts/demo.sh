#!/usr/bin/env bash
# make demo: a sandbox "node" (a network namespace) with an uplink to an
# "outside" namespace, two CNI networks on it (frontend: open; backend:
# same-bridge with allow rules), five pods, hostPorts on two host IPs,
# hairpin, localhost, MASQUERADE, isolation — all through the ferrocni CLI
# running our plugins — then a full teardown that proves zero per-pod state.
# Nothing here touches the host's own network namespace.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-$PWD/target/debug}
FERRO=$BIN/ferrocni
P=fcni-demo-$$
NODE=$P-node
OUTSIDE=$P-out
WORK=$(mktemp -d /tmp/ferrocni-demo.XXXXXX)
PODS=(web1 web2 client db log)
export NETCONFPATH=$WORK/net.d CNI_PATH=$BIN
FAILED=0

bold() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
ok() { printf '   \033[32mok\033[0m   %s\n' "$*"; }
bad() { printf '   \033[31mFAIL\033[0m %s\n' "$*"; FAILED=1; }
node() { ip netns exec "$NODE" "$@"; }
pod() { local p=$1; shift; ip netns exec "$P-$p" "$@"; }
cli() { "$FERRO" netns exec "$NODE" "$FERRO" --cache-dir "$WORK/cache" "$@"; }

# TCP request with a timeout: prints the answer (empty when refused/dropped).
ask() { local ns=$1 addr=$2 port=$3; ip netns exec "$ns" timeout 3 socat -T2 - "TCP:$addr:$port,connect-timeout=2" </dev/null 2>/dev/null || true; }
expect() { # expect <label> <want> <got>
  if [ "$3" = "$2" ]; then ok "$1 -> ${3:-nothing}"; else bad "$1: wanted '${2:-nothing}', got '${3:-nothing}'"; fi
}

cleanup() {
  set +e
  for p in "${PODS[@]}"; do
    net=frontend; case $p in db|log) net=backend;; esac
    [ -e "/run/netns/$P-$p" ] && CNI_CONTAINERID="$P-$p" cli del "$net" "/run/netns/$P-$p" >/dev/null 2>&1
  done
  pkill -f "socat.*fcni-demo-$$" 2>/dev/null
  for ns in $(ip netns list | awk '{print $1}' | grep "^$P-"); do ip netns pids "$ns" | xargs -r kill 2>/dev/null; "$FERRO" netns del "$ns" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT

serve() { # serve <pod> <port> <text>: a TCP server answering <text>
  pod "$1" socat "TCP-LISTEN:$2,fork,reuseaddr" "SYSTEM:echo $3 #fcni-demo-$$" >/dev/null 2>&1 &
}

bold "sandbox node $NODE with an uplink to $OUTSIDE (192.0.2.0/24), host IPs 192.0.2.10 and .11"
"$FERRO" netns add "$NODE"; "$FERRO" netns add "$OUTSIDE"
ip link add "fdu$$a" netns "$NODE" type veth peer name "fdu$$b" netns "$OUTSIDE"
node ip link set lo up; node ip link set "fdu$$a" name uplink0 up
node ip addr add 192.0.2.10/24 dev uplink0; node ip addr add 192.0.2.11/24 dev uplink0
ip netns exec "$OUTSIDE" ip link set lo up; ip netns exec "$OUTSIDE" ip link set "fdu$$b" name eth0 up
ip netns exec "$OUTSIDE" ip addr add 192.0.2.1/24 dev eth0
node ip route add default via 192.0.2.1
ok "outside has no route to the pod subnets: $(ip netns exec "$OUTSIDE" ip -4 route | tr '\n' ';')"

mkdir -p "$NETCONFPATH"
sed -e "s#@WORK@#$WORK#g" -e "s#@P@#$$#g" scripts/demo/frontend.conflist >"$NETCONFPATH/frontend.conflist"
sed -e "s#@WORK@#$WORK#g" -e "s#@P@#$$#g" scripts/demo/backend.conflist >"$NETCONFPATH/backend.conflist"
bold "networks: frontend (open) and backend (same-bridge, allow web -> tcp/5432, tcp/5140)"
grep -h '"name"\|"bridge"\|"subnet"\|"ingressPolicy"\|"from"' "$NETCONFPATH"/*.conflist | sed 's/^/   /'

add_pod() { # add_pod <pod> <net> <ip> [CAP_ARGS]
  "$FERRO" netns add "$P-$1"
  CNI_CONTAINERID="$P-$1" cli --netconf scripts/demo/loopback.conf -i lo add "/run/netns/$P-$1" >/dev/null
  CNI_ARGS="IgnoreUnknown=1;IP=$3;K8S_POD_NAME=$1" CAP_ARGS="${4:-}" CNI_CONTAINERID="$P-$1" \
    cli add "$2" "/run/netns/$P-$1" >"$WORK/$1.json"
  ok "$1 on $2: $(grep -o "\"address\": *\"[^\"]*\"" "$WORK/$1.json" | head -1)"
}
bold "pods (bridge + host-local + portmap + firewall, chained by the ferrocni CLI)"
add_pod web1 frontend 10.10.1.11 '{"portMappings":[{"hostPort":80,"containerPort":8080,"protocol":"tcp","hostIP":"192.0.2.10"},{"hostPort":8081,"containerPort":8080,"protocol":"tcp"}]}'
add_pod web2 frontend 10.10.1.12 '{"portMappings":[{"hostPort":80,"containerPort":8080,"protocol":"tcp","hostIP":"192.0.2.11"}]}'
add_pod client frontend 10.10.1.20
add_pod db backend 10.10.2.5
add_pod log backend 10.10.2.6
bold "CHECK every attachment (loopback + the whole chain)"
for p in "${PODS[@]}"; do
  net=frontend; case $p in db|log) net=backend;; esac
  CNI_CONTAINERID="$P-$p" cli --netconf scripts/demo/loopback.conf -i lo check "/run/netns/$P-$p" &&
    CNI_CONTAINERID="$P-$p" cli check "$net" "/run/netns/$P-$p" && ok "CHECK $p" || bad "CHECK $p"
done
serve web1 8080 web1; serve web2 8080 web2; serve db 5432 db; serve db 9999 db-admin
serve log 5140 log; serve log 9999 log-admin
ip netns exec "$OUTSIDE" socat TCP-LISTEN:7000,fork,reuseaddr 'SYSTEM:echo $SOCAT_PEERADDR #fcni-demo-'$$ >/dev/null 2>&1 &
sleep 0.5  # listeners (demo only; the plugins never sleep)

bold "hostPort 80 on two host IPs, reached from outside"
expect "outside -> 192.0.2.10:80" web1 "$(ask "$OUTSIDE" 192.0.2.10 80)"
expect "outside -> 192.0.2.11:80" web2 "$(ask "$OUTSIDE" 192.0.2.11 80)"
expect "outside -> 192.0.2.11:8081 (any-IP mapping)" web1 "$(ask "$OUTSIDE" 192.0.2.11 8081)"
bold "hairpin and localhost"
expect "web1 -> 192.0.2.11:80 (its neighbour)" web2 "$(ask "$P-web1" 192.0.2.11 80)"
expect "web1 -> 192.0.2.10:80 (itself)" web1 "$(ask "$P-web1" 192.0.2.10 80)"
expect "node 127.0.0.1:8081" web1 "$(ask "$NODE" 127.0.0.1 8081)"
bold "pod-to-pod, pod -> gateway, and MASQUERADE (outside sees only the node)"
expect "web1 -> web2 10.10.1.12:8080" web2 "$(ask "$P-web1" 10.10.1.12 8080)"
if pod web1 ping -c1 -W2 10.10.1.1 >/dev/null; then ok "web1 pings its gateway 10.10.1.1"; else bad "web1 -> gateway"; fi
expect "web1 -> outside 192.0.2.1:7000 shows source" 192.0.2.10 "$(ask "$P-web1" 192.0.2.1 7000)"
bold "isolation between networks, with explicit allow rules"
expect "web1 -> db:5432 (allowed)" db "$(ask "$P-web1" 10.10.2.5 5432)"
expect "web2 -> log:5140 (allowed)" log "$(ask "$P-web2" 10.10.2.6 5140)"
expect "web1 -> db:9999 (not allowed)" "" "$(ask "$P-web1" 10.10.2.5 9999)"
expect "client -> db:5432 (not a web pod)" "" "$(ask "$P-client" 10.10.2.5 5432)"
expect "log -> db:5432 (same network)" db "$(ask "$P-log" 10.10.2.5 5432)"
expect "db -> web1:8080 (frontend is open)" web1 "$(ask "$P-db" 10.10.1.11 8080)"

if [ "${DEMO_CGROUP:-1}" = 1 ] && make -n demo-cgroup >/dev/null 2>&1; then
  bold "cgroup-hook: a non-core workload with limits applied (in a cgroup v2 VM)"
  make --no-print-directory demo-cgroup || bad "cgroup demo"
fi

bold "teardown: DEL every pod, then prove zero per-pod state"
for p in "${PODS[@]}"; do
  net=frontend; case $p in db|log) net=backend;; esac
  CNI_CONTAINERID="$P-$p" cli del "$net" "/run/netns/$P-$p" && ok "DEL $p" || bad "DEL $p"
  CNI_CONTAINERID="$P-$p" cli --netconf scripts/demo/loopback.conf -i lo del "/run/netns/$P-$p" || bad "DEL lo $p"
done
left_veth=$(node ip -o link show type veth | grep -vc uplink0 || true)
expect "veths left in the node" 0 "$left_veth"
left_ips=$(find "$WORK/ipam" -type f -name '10.*' | wc -l)
expect "IP reservations left" 0 "$left_ips"
left_rules=$(node nft list ruleset | grep -c "$P-" || true)
expect "firewall rules/elements naming a pod" 0 "$left_rules"
for br in "fcf$$" "fcb$$"; do
  expect "IPv4 addresses on $br (the gateway only)" 1 "$(node ip -4 -o addr show dev "$br" | wc -l)"
done
left_ct=$( { node conntrack -L 2>/dev/null || true; } | { grep -E "10\.10\.(1|2)\.([02-9]|1[0-9])" || true; } | tee "$WORK/ct.txt" | wc -l)
expect "conntrack entries of pod addresses" 0 "$left_ct"; cat "$WORK/ct.txt"
left_cache=$(find "$WORK/cache" -type f | wc -l)
expect "result cache entries left" 0 "$left_cache"
if [ "$FAILED" = 0 ]; then bold "demo passed"; else bold "demo FAILED"; exit 1; fi

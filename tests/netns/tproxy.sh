#!/usr/bin/env bash
# Runs inside a private network namespace (`unshare -n`, made by the test), which plays a
# router: a client in a second namespace (behind a veth pair) connects to 203.0.113.5:80; an
# nftables TPROXY rule hands the connection to `red://...?tproxy=true`, which reaches the origin
# through a SOCKS5 chain. Usage: tproxy.sh GOST_BINARY WORKDIR.
set -euo pipefail
GOST=$1
DIR=$2
cd "$DIR"
ip link set lo up
# The client's namespace: a process that only waits, entered with nsenter.
unshare -n sleep 120 & CPID=$!
trap 'kill $CPID 2>/dev/null || true' EXIT
sleep 0.3
ip link add vproxy type veth peer name vclient
ip link set vclient netns "$CPID"
ip addr add 10.99.0.1/24 dev vproxy
ip link set vproxy up
in_client() { nsenter -t "$CPID" -n "$@"; }
in_client ip link set lo up
in_client ip addr add 10.99.0.2/24 dev vclient
in_client ip link set vclient up
in_client ip route add default via 10.99.0.1

# The origin, here: it says who connected to it.
ip addr add 203.0.113.5/32 dev lo
cat > origin.py <<'PY'
import http.server
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("from " + self.client_address[0]).encode()
        self.send_response(200); self.send_header('Content-Length', str(len(body))); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(('203.0.113.5', 80), H).serve_forever()
PY
python3 origin.py & O=$!
"$GOST" -L "socks5://127.0.0.1:1080?udp=true" > socks.log 2>&1 & S=$!
"$GOST" -L "red://:12346?tproxy=true" -F socks5://127.0.0.1:1080 > red.log 2>&1 & R=$!
# UDP: an origin that answers "pong from <sender>", and the transparent UDP proxy.
cat > udp_origin.py <<'PY'
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the proxy answers from this address too
s.bind(("203.0.113.5", 5353))
while True:
    data, peer = s.recvfrom(2048)
    s.sendto(b"pong from " + peer[0].encode(), peer)
PY
python3 udp_origin.py & U=$!
"$GOST" -L "redu://:12347" -F socks5://127.0.0.1:1080 > redu.log 2>&1 & RU=$!
trap 'kill $CPID $O $S $R $U $RU 2>/dev/null || true' EXIT
for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/12346) 2>/dev/null && break; sleep 0.1; done
for _ in $(seq 100); do (echo > /dev/tcp/203.0.113.5/80) 2>/dev/null && break; sleep 0.1; done

check() { # name expected
    local got
    got=$(in_client curl -s --max-time 10 http://203.0.113.5/ || true)
    if [ "$got" != "$2" ]; then
        echo "FAIL $1: got '$got', want '$2'"; echo "--- red log"; cat red.log; exit 1
    fi
    echo "ok $1"
}
check "routed directly" "from 10.99.0.2"
ip rule add fwmark 1 lookup 100
ip route add local 0.0.0.0/0 dev lo table 100
nft add table ip gosttproxy
nft add chain ip gosttproxy pre '{ type filter hook prerouting priority mangle; }'
nft add rule ip gosttproxy pre iifname vproxy ip daddr 203.0.113.5 tcp dport 80 tproxy to :12346 meta mark set 1 accept
# Through the proxy the origin sees the SOCKS5 server's source (its own address here).
check "tproxy" "from 203.0.113.5"

# UDP through TPROXY into `redu`, through the SOCKS5 chain's UDP.
cat > udp_client.py <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
out = []
for i in range(3):
    s.sendto(b"ping", ("203.0.113.5", 5353))
    try:
        out.append(s.recvfrom(2048)[0].decode())
    except socket.timeout:
        out.append("timeout")
print(",".join(out))
PY
check_udp() { # name expected
    local got
    got=$(in_client python3 udp_client.py || true)
    if [ "$got" != "$2" ]; then
        echo "FAIL $1: got '$got', want '$2'"; echo "--- redu log"; cat redu.log; exit 1
    fi
    echo "ok $1"
}
check_udp "udp routed directly" "pong from 10.99.0.2,pong from 10.99.0.2,pong from 10.99.0.2"
nft add rule ip gosttproxy pre iifname vproxy ip daddr 203.0.113.5 udp dport 5353 tproxy to :12347 meta mark set 1 accept
check_udp "udp tproxy" "pong from 203.0.113.5,pong from 203.0.113.5,pong from 203.0.113.5"

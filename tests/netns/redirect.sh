#!/usr/bin/env bash
# Runs inside a private network namespace (`unshare -n`, made by the test). A client that
# knows nothing of the proxy connects to 10.9.9.9:80; netfilter (nftables, then iptables)
# redirects it to gost's transparent proxy, which reaches the origin through a SOCKS5 chain.
# Usage: redirect.sh GOST_BINARY WORKDIR. Prints "ok" lines; exits non-zero on the first failure.
set -euo pipefail
GOST=$1
DIR=$2
cd "$DIR"
ip link set lo up
ip addr add 10.9.9.9/32 dev lo

cat > origin.py <<'PY'
import http.server
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("from " + self.client_address[0]).encode()
        self.send_response(200); self.send_header('Content-Length', str(len(body))); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(('10.9.9.9', 80), H).serve_forever()
PY
python3 origin.py & O=$!
# The chain's SOCKS5 server connects to the origin from 10.9.9.9 (a local address: the
# kernel's choice of source), the client from its own 127.0.0.5.
"$GOST" -L socks5://127.0.0.1:1080 > socks.log 2>&1 & S=$!
"$GOST" -L red://127.0.0.1:12345 -F socks5://127.0.0.1:1080 > red.log 2>&1 & R=$!
trap 'kill $O $S $R 2>/dev/null || true' EXIT

wait_port() {
    for _ in $(seq 100); do (echo > "/dev/tcp/$1/$2") 2>/dev/null && return 0; sleep 0.1; done
    echo "nothing listens on $1:$2"; return 1
}
wait_port 10.9.9.9 80; wait_port 127.0.0.1 1080; wait_port 127.0.0.1 12345

check() { # name expected curl-args...
    local name=$1 want=$2; shift 2
    local got
    got=$(curl -s --max-time 10 "$@" || true)
    if [ "$got" != "$want" ]; then
        echo "FAIL $name: got '$got', want '$want'"; echo "--- red log"; cat red.log; echo "--- socks log"; cat socks.log; exit 1
    fi
    echo "ok $name"
}
# Without a rule the client reaches the origin itself (from its own source address).
check "direct" "from 127.0.0.5" --interface 127.0.0.5 http://10.9.9.9/
# nftables: the client's connections (source 127.0.0.5) go to the proxy.
nft add table ip gosttest
nft add chain ip gosttest out '{ type nat hook output priority -100; }'
nft add rule ip gosttest out ip saddr 127.0.0.5 ip daddr 10.9.9.9 tcp dport 80 redirect to :12345
check "nftables redirect" "from 10.9.9.9" --interface 127.0.0.5 http://10.9.9.9/
# iptables: the same for source 127.0.0.6.
if command -v iptables >/dev/null; then
    iptables -t nat -A OUTPUT -s 127.0.0.6 -d 10.9.9.9 -p tcp --dport 80 -j REDIRECT --to-ports 12345
    check "iptables redirect" "from 10.9.9.9" --interface 127.0.0.6 http://10.9.9.9/
fi
# A connection made to the proxy's port directly is closed (dialing it would loop).
check "not redirected" "" http://127.0.0.1:12345/
check "still serving" "from 10.9.9.9" --interface 127.0.0.5 http://10.9.9.9/

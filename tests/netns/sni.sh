#!/usr/bin/env bash
# Runs inside a private network namespace (`unshare -n`, made by the test): its loopback is
# ours alone, so the origins can listen on port 443 and 80 of 127.0.0.2 and 127.0.0.3.
# Usage: sni.sh GOST_BINARY WORKDIR. Prints "ok" lines; exits non-zero on the first failure.
set -euo pipefail
GOST=$1
DIR=$2
cd "$DIR"
ip link set lo up

openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=a.test \
    -addext "subjectAltName=DNS:a.test,DNS:b.test" -keyout key.pem -out cert.pem 2>/dev/null

cat > origin.py <<'PY'
import http.server, ssl, sys, threading
ip, body = sys.argv[1], sys.argv[2].encode()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header('Content-Length', str(len(body))); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
tls = http.server.ThreadingHTTPServer((ip, 443), H)
c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); c.load_cert_chain('cert.pem', 'key.pem')
tls.socket = c.wrap_socket(tls.socket, server_side=True)
threading.Thread(target=tls.serve_forever, daemon=True).start()
http.server.ThreadingHTTPServer((ip, 80), H).serve_forever()
PY
python3 origin.py 127.0.0.2 site-a & A=$!
python3 origin.py 127.0.0.3 site-b & B=$!

cat > gost.yaml <<'YAML'
services:
- name: sni
  addr: 127.0.0.1:8443
  hosts: names
  bypass: blocked
  handler: {type: sni}
  listener: {type: tcp}
hosts:
- name: names
  mappings:
  - {ip: 127.0.0.2, hostname: a.test}
  - {ip: 127.0.0.3, hostname: b.test}
  - {ip: 127.0.0.3, hostname: blocked.test}
bypasses:
- name: blocked
  matchers: [blocked.test]
YAML
"$GOST" -C gost.yaml > sni.log 2>&1 & S=$!
"$GOST" -L tcp://127.0.0.1:9443/unused.test:443 -F "sni://127.0.0.1:8443?host=cover.test" > client.log 2>&1 & C=$!
trap 'kill $A $B $S $C 2>/dev/null || true' EXIT

wait_port() {
    for _ in $(seq 100); do (echo > "/dev/tcp/$1/$2") 2>/dev/null && return 0; sleep 0.1; done
    echo "nothing listens on $1:$2"; return 1
}
wait_port 127.0.0.2 443; wait_port 127.0.0.3 443; wait_port 127.0.0.1 8443; wait_port 127.0.0.1 9443

check() { # name expected curl-args...
    local name=$1 want=$2; shift 2
    local got
    got=$(curl -s --max-time 10 "$@" || true)
    if [ "$got" != "$want" ]; then
        echo "FAIL $name: got '$got', want '$want'"; echo "--- sni log"; cat sni.log; echo "--- client log"; cat client.log; exit 1
    fi
    echo "ok $name"
}
# TLS by server name (port 443), two names, two origins.
check "tls a.test" site-a --cacert cert.pem --resolve a.test:8443:127.0.0.1 https://a.test:8443/
check "tls b.test" site-b --cacert cert.pem --resolve b.test:8443:127.0.0.1 https://b.test:8443/
# HTTP by Host (with its port).
check "http a.test" site-a -H "Host: a.test:80" http://127.0.0.1:8443/
check "http b.test" site-b --resolve b.test:8443:127.0.0.1 -H "Host: b.test" http://b.test:8443/
# Bypassed names, no name, garbage: closed.
check "bypassed" "" -k --resolve blocked.test:8443:127.0.0.1 https://blocked.test:8443/
check "no sni" "" -k https://127.0.0.1:8443/
printf 'SSH-2.0-x\r\n' | timeout 5 bash -c 'cat > /dev/tcp/127.0.0.1/8443' || true
check "still serving" site-a --cacert cert.pem --resolve a.test:8443:127.0.0.1 https://a.test:8443/
# A ClientHello sent a byte at a time is still routed (a ServerHello comes back).
cat > split.py <<'PY'
import socket, ssl, time
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
tls = ctx.wrap_bio(inc, out, server_hostname="a.test")
try:
    tls.do_handshake()
except ssl.SSLWantReadError:
    pass
hello = out.read()
s = socket.create_connection(("127.0.0.1", 8443))
for b in hello:
    s.send(bytes([b])); time.sleep(0.002)
s.settimeout(5)
print("ok split" if s.recv(5)[:1] == b"\x16" else "FAIL split")
PY
out=$(python3 split.py); echo "$out"; [ "$out" = "ok split" ] || { cat sni.log; exit 1; }
# Through an sni client that shows cover.test: the server routes by the hidden real name.
check "sni connector, tls" site-a --cacert cert.pem --resolve a.test:9443:127.0.0.1 https://a.test:9443/
check "sni connector, http" site-b -H "Host: b.test" http://127.0.0.1:9443/

# Against the reference Go gost, when given (GO_GOST: its binary; GO_HOME: its home).
if [ -n "${GO_GOST:-}" ]; then
    sed 's/127.0.0.1:8443/127.0.0.1:8444/' gost.yaml > go.yaml
    (cd "$GO_HOME" && HOME=$GO_HOME exec "$GO_GOST" -C "$DIR/go.yaml") > go-sni.log 2>&1 & GS=$!
    "$GOST" -L tcp://127.0.0.1:9444/unused.test:443 -F "sni://127.0.0.1:8443" > plain.log 2>&1 & P1=$!
    (cd "$GO_HOME" && HOME=$GO_HOME exec "$GO_GOST" -L tcp://127.0.0.1:9445/unused.test:443 -F "sni://127.0.0.1:8443?host=cover.test") > go-client.log 2>&1 & GC=$!
    trap 'kill $A $B $S $C $GS $P1 $GC 2>/dev/null || true' EXIT
    wait_port 127.0.0.1 8444 || { cat go-sni.log; exit 1; }
    wait_port 127.0.0.1 9445
    # Our sni client (no disguise) to Go's sni server, TLS and HTTP.
    "$GOST" -L tcp://127.0.0.1:9446/unused.test:443 -F "sni://127.0.0.1:8444" > ours-to-go.log 2>&1 & P2=$!
    wait_port 127.0.0.1 9446
    check "go server, tls" site-a --cacert cert.pem --resolve a.test:9446:127.0.0.1 https://a.test:9446/
    check "go server, http" site-b -H "Host: b.test" http://127.0.0.1:9446/
    # Go's sni client with a cover name to our server: HTTP (Gost-Target) and TLS (0xFFFE).
    check "go client, http" site-b -H "Host: b.test" http://127.0.0.1:9445/
    check "go client, tls" site-a --cacert cert.pem --resolve a.test:9445:127.0.0.1 https://a.test:9445/
    kill $P2 2>/dev/null || true
fi

#!/usr/bin/env bash
# Runs inside a private network namespace (`unshare -n`, made by the test): loopback delays each
# packet 25 ms (50 ms round trips) and drops 5%, then files cross a transport pair (a client
# forwarder and its server) both ways and must arrive whole.
# Usage: lossy.sh GOST_BINARY WORKDIR TRANSPORT. Prints "ok" lines; exits non-zero on failure.
set -euo pipefail
GOST=$1
DIR=$2
T=$3
cd "$DIR"
ip link set lo up
if ! tc qdisc add dev lo root netem delay 25ms loss 5% 2>tc.err; then
    echo "SKIP netem unavailable: $(cat tc.err)"; exit 0
fi

head -c 8388608 /dev/urandom > down.bin
head -c 4194304 /dev/urandom > up.bin
cat > origin.py <<'PY'
import http.server
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    def do_GET(self):
        data = open('down.bin', 'rb').read()
        self.send_response(200); self.send_header('Content-Length', str(len(data))); self.end_headers(); self.wfile.write(data)
    def do_PUT(self):
        n = int(self.headers['Content-Length']); got = b''
        while len(got) < n:
            chunk = self.rfile.read(n - len(got))
            if not chunk: break
            got += chunk
        open('got.bin', 'wb').write(got)
        self.send_response(201); self.send_header('Content-Length', '0'); self.end_headers()
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(('127.0.0.1', 8000), H).serve_forever()
PY
python3 origin.py & O=$!
"$GOST" -L "$T://127.0.0.1:9443/127.0.0.1:8000" > server.log 2>&1 & S=$!
"$GOST" -L tcp://127.0.0.1:9000/127.0.0.1:1 -F "forward+$T://127.0.0.1:9443" > client.log 2>&1 & C=$!
trap 'kill $O $S $C 2>/dev/null || true' EXIT
sleep 1

start=$(date +%s.%N)
curl -s --max-time 120 -o got-down.bin http://127.0.0.1:9000/down.bin || { echo "FAIL download"; cat client.log server.log; exit 1; }
cmp down.bin got-down.bin || { echo "FAIL download differs"; exit 1; }
mid=$(date +%s.%N)
curl -s --max-time 120 -T up.bin http://127.0.0.1:9000/up.bin -o /dev/null || { echo "FAIL upload"; cat client.log server.log; exit 1; }
cmp up.bin got.bin || { echo "FAIL upload differs"; exit 1; }
end=$(date +%s.%N)
echo "ok $T: 8 MiB down in $(echo "$mid - $start" | bc) s, 4 MiB up in $(echo "$end - $mid" | bc) s (50 ms RTT, 5% loss)"

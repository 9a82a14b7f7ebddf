#!/usr/bin/env bash
# One benchmark run: our gost against Go gost and against no proxy at all, same machine, same
# client (target/release/gost-bench), same origin, all on 127.0.0.1. See docs/benchmarks.md.
#
#   bench/run.sh                  # everything, prints one markdown table
#   BENCH_BYTES=256M bench/run.sh # a shorter bulk transfer (K/M/G suffixes are powers of 1024)
#
# Knobs: BENCH_BYTES (1G), BENCH_CONNS (5000 short connections), BENCH_CONC (50 at a time),
# BENCH_IDLE (5000 idle connections), BENCH_REPEAT (3: bulk and connection-rate figures are the
# median of that many runs against the same proxy processes), BENCH_ONLY (any of "bulk conns
# idle"; all by default), BENCH_BULK_PATHS / BENCH_CONNS_PATHS / BENCH_IDLE_PATHS (which proxies,
# e.g. "tcp counted"; all by default), GO_GOST (the reference binary; by default
# tests/interop/fetch-reference.sh builds v3.2.6 from ../shared/reference once, as the interop
# tests do; another build of ours works too, for a before/after). Without the reference the Go
# columns read n/a.
#
# Every process started here is ended on exit; every wait is bounded in count and time.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BYTES=${BENCH_BYTES:-1G}
CONNS=${BENCH_CONNS:-5000}
CONC=${BENCH_CONC:-50}
IDLE=${BENCH_IDLE:-5000}
ONLY=${BENCH_ONLY:-bulk conns idle}
REPEAT=${BENCH_REPEAT:-3}
GO_GOST=${GO_GOST:-}
BULK_SECS=120 # bound on one bulk transfer (each direction)
CONNS_SECS=30 # bound on one connection-rate measurement

BULK_PATHS=${BENCH_BULK_PATHS:-tcp counted socks5 http relay tls wss mwss h2 ss-aes ss-chacha ss-2022 tunnel}
CONNS_PATHS=${BENCH_CONNS_PATHS:-tcp counted socks5 mwss h2 tunnel}
IDLE_PATHS=${BENCH_IDLE_PATHS:-tcp socks5 http mwss}

say() { printf '%s\n' "$*" >&2; }
die() { say "bench: $*"; exit 1; }

cd "$ROOT" || exit 1
say "== building release binaries"
cargo build --release -p gost -p gost-bench >&2 || die "build failed"
OURS=$ROOT/target/release/gost
TOOL=$ROOT/target/release/gost-bench
HAVE_GO=1
if [ -z "$GO_GOST" ]; then
    # The same reference the interop tests use (built once from ../shared/reference).
    GO_GOST=$(sh "$ROOT/tests/interop/fetch-reference.sh" 2>/dev/null | tail -n 1) || GO_GOST=
fi
if [ -z "$GO_GOST" ] || [ ! -x "$GO_GOST" ]; then
    HAVE_GO=0
    say "bench: no Go gost (tests/interop/fetch-reference.sh builds it; GO_GOST names another): Go columns are n/a"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/gost-bench.XXXXXX") || die "mktemp failed"
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start NAME CMD...: runs CMD in the background, output in $WORK/NAME.log; sets LAST_PID.
start() {
    local name=$1
    shift
    "$@" >"$WORK/$name.log" 2>&1 &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
    LOGS[$LAST_PID]=$WORK/$name.log
}
declare -A LOGS

# show_logs: the end of each proxy process's log and whether it is still running (after a failure).
show_logs() {
    local p
    for p in "${PROCS[@]}"; do
        say "   [pid $p $(gone "$p" && echo exited || echo running)] ${LOGS[$p]##*/}:"
        tail -5 "${LOGS[$p]}" | sed 's/^/     /' >&2
    done
}

gone() { [ ! -e "/proc/$1" ] || [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]; }

# stop PID...: SIGTERM, up to 2 s to exit, then SIGKILL; reaps them.
stop() {
    local p i
    for p in "$@"; do kill "$p" 2>/dev/null; done
    for p in "$@"; do
        for ((i = 0; i < 40; i++)); do gone "$p" && break; sleep 0.05; done
        gone "$p" || kill -9 "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    # Forget them: a reaped id may be reused by someone else's process.
    local keep=() q
    for q in "${PIDS[@]}"; do
        for p in "$@"; do [ "$q" = "$p" ] && continue 2; done
        keep+=("$q")
    done
    PIDS=("${keep[@]}")
}

# The origin: sink, source, echo and a tiny HTTP server on one port.
start origin "$TOOL" origin --listen 127.0.0.1:0
ORIGIN_PID=$LAST_PID
ORIGIN=
for ((i = 0; i < 100; i++)); do
    ORIGIN=$(awk '/^listening/{print $2}' "$WORK/origin.log")
    [ -n "$ORIGIN" ] && break
    sleep 0.05
done
[ -n "$ORIGIN" ] || die "the origin did not start: $(cat "$WORK/origin.log")"

# File descriptors: the proxy holds two per idle connection, the client and the origin one each.
ulimit -n "$(ulimit -Hn)" 2>/dev/null
NOFILE=$(ulimit -n)
NOTES=()
if [ "$NOFILE" != unlimited ] && [ $((2 * IDLE + 200)) -gt "$NOFILE" ]; then
    IDLE=$(((NOFILE - 200) / 2))
    NOTES+=("ulimit -n is $NOFILE: idle connections lowered to $IDLE")
    say "bench: ${NOTES[-1]}"
fi

CLK_TCK=$(getconf CLK_TCK)
alive() {
    local p
    for p in "$@"; do gone "$p" && return 1; done
    return 0
}
cpu_ticks() {
    local t=0 p
    for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
    echo "$t"
}
rss_kib() {
    local t=0 p
    for p in "$@"; do t=$((t + $(awk '/^VmRSS/{print $2}' "/proc/$p/status"))); done
    echo "$t"
}
# kv KEY LINE: the value of KEY=value in LINE.
kv() { printf '%s\n' "$2" | tr ' ' '\n' | awk -F= -v k="$1" '$1 == k {print $2}'; }
calc() { awk "BEGIN { printf \"%.6g\", $1 }"; }
# median VALUE...: the middle value (the mean of the two middle ones for an even count).
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# setup IMPL PATH: starts the proxy (or client + server pair) of PATH, with IMPL's binary
# (ours|go; libev: shadowsocks-libev, ss paths only); sets VIA (how gost-bench reaches the
# origin) and PROCS (the proxy processes whose CPU and memory count). Returns non-zero when it
# did not come up.
setup() {
    local impl=$1 path=$2 bin p s
    bin=$OURS
    [ "$impl" = go ] && bin=$GO_GOST
    PROCS=()
    VIA=direct
    [ "$path" = direct ] && return 0
    { read -r p; read -r s; } < <("$TOOL" ports 2)
    case $path in
    tcp)
        start "$impl-$path" "$bin" -L "tcp://127.0.0.1:$p/$ORIGIN"
        PROCS=("$LAST_PID")
        VIA=tcp:127.0.0.1:$p
        ;;
    counted) # the tcp forwarder with enableStats and the metrics endpoint: what counting costs
        start "$impl-$path" "$bin" -L "tcp://127.0.0.1:$p/$ORIGIN?enableStats=true" -metrics "127.0.0.1:$s"
        PROCS=("$LAST_PID")
        VIA=tcp:127.0.0.1:$p
        ;;
    socks5 | http)
        start "$impl-$path" "$bin" -L "$path://127.0.0.1:$p"
        PROCS=("$LAST_PID")
        VIA=$path:127.0.0.1:$p
        ;;
    relay)
        start "$impl-$path-server" "$bin" -L "relay://127.0.0.1:$s"
        PROCS=("$LAST_PID")
        start "$impl-$path-client" "$bin" -L "tcp://127.0.0.1:$p/$ORIGIN" -F "relay://127.0.0.1:$s"
        PROCS+=("$LAST_PID")
        VIA=tcp:127.0.0.1:$p
        ;;
    ss-aes | ss-chacha | ss-2022) # a shadowsocks client + server pair (AEAD, or 2022)
        local method=aes-256-gcm pass=bench
        [ "$path" = ss-chacha ] && method=chacha20-ietf-poly1305
        [ "$path" = ss-2022 ] && method=2022-blake3-aes-128-gcm pass=YmVuY2hiZW5jaGJlbmNoYg==
        # (shadowsocks-libev has no 2022: has_libev leaves that row to Go.)
        if [ "$impl" = libev ]; then
            # shadowsocks-libev: ss-server, and ss-tunnel as the port-forwarding client.
            start "$impl-$path-server" ss-server -s 127.0.0.1 -p "$s" -k bench -m "$method" -n 65535
            PROCS=("$LAST_PID")
            start "$impl-$path-client" ss-tunnel -s 127.0.0.1 -p "$s" -b 127.0.0.1 -l "$p" \
                -L "$ORIGIN" -k bench -m "$method" -n 65535
            PROCS+=("$LAST_PID")
            VIA=tcp:127.0.0.1:$p
            "$TOOL" wait "127.0.0.1:$s" --secs 15 || return 1
            "$TOOL" wait "127.0.0.1:$p" --secs 15 || return 1
            return 0
        fi
        start "$impl-$path-server" "$bin" -L "ss://$method:$pass@127.0.0.1:$s"
        PROCS=("$LAST_PID")
        start "$impl-$path-client" "$bin" -L "tcp://127.0.0.1:$p/$ORIGIN" -F "ss://$method:$pass@127.0.0.1:$s"
        PROCS+=("$LAST_PID")
        VIA=tcp:127.0.0.1:$p
        ;;
    tunnel) # a reverse tunnel: visitor -> tunnel server -> tunnel client (rtcp) -> origin
        local id=4d21094e-b74c-4916-86c1-d9fa36ea677b
        start "$impl-$path-server" "$bin" -L "tunnel://127.0.0.1:$s?tunnel=bench.test:$id"
        PROCS=("$LAST_PID")
        "$TOOL" wait "127.0.0.1:$s" --secs 15 || return 1
        start "$impl-$path-client" "$bin" -L "rtcp://:0/$ORIGIN" -F "tunnel://127.0.0.1:$s?tunnel.id=$id"
        PROCS+=("$LAST_PID")
        start "$impl-$path-visitor" "$bin" -L "tcp://127.0.0.1:$p/bench.test:80" -F "tunnel://127.0.0.1:$s?tunnel.id=$id"
        PROCS+=("$LAST_PID")
        VIA=tcp:127.0.0.1:$p
        "$TOOL" wait "127.0.0.1:$p" --secs 15 || return 1
        sleep 1 # the client registers
        return 0
        ;;
    http2) # gost's HTTP/2 proxy: CONNECT streams on one HTTP/2 connection
        start "$impl-$path-server" "$bin" -L "http2://127.0.0.1:$s"
        PROCS=("$LAST_PID")
        start "$impl-$path-client" "$bin" -L "tcp://127.0.0.1:$p/$ORIGIN" -F "http2://127.0.0.1:$s"
        PROCS+=("$LAST_PID")
        VIA=tcp:127.0.0.1:$p
        ;;
    tls | wss | mwss | h2 | h2c | grpc | pht | quic)
        start "$impl-$path-server" "$bin" -L "$path://127.0.0.1:$s/$ORIGIN"
        PROCS=("$LAST_PID")
        start "$impl-$path-client" "$bin" -L "tcp://127.0.0.1:$p/$ORIGIN" -F "forward+$path://127.0.0.1:$s"
        PROCS+=("$LAST_PID")
        VIA=tcp:127.0.0.1:$p
        ;;
    *) die "unknown path $path" ;;
    esac
    # (A QUIC server listens on UDP: nothing to connect to; its client's port is enough.)
    [ "${#PROCS[@]}" -eq 2 ] && [ "$path" != quic ] && { "$TOOL" wait "127.0.0.1:$s" --secs 15 || return 1; }
    "$TOOL" wait "127.0.0.1:$p" --secs 15 || return 1
}

teardown() { [ "${#PROCS[@]}" -gt 0 ] && stop "${PROCS[@]}"; PROCS=(); }

# Results: R[measure.path.impl] = number.
declare -A R

skip_impl() { [ "$1" = go ] && [ "$HAVE_GO" = 0 ]; }
# has_libev PATH: shadowsocks-libev is a third implementation of the ss paths, when installed.
HAVE_LIBEV=0
command -v ss-server >/dev/null && command -v ss-tunnel >/dev/null && HAVE_LIBEV=1
has_libev() { [ "$HAVE_LIBEV" = 1 ] && case $1 in ss-aes | ss-chacha) true ;; *) false ;; esac; }

run_bulk() {
    local impl=$1 path=$2 c0 c1 out i ups=() downs=() moved=0
    skip_impl "$impl" && return
    say "-- bulk $path $impl"
    if ! setup "$impl" "$path"; then
        say "bench: $impl $path did not start"
        show_logs
        teardown
        return
    fi
    c0=$(cpu_ticks "${PROCS[@]}")
    for ((i = 0; i < REPEAT; i++)); do
        if out=$(timeout $((2 * BULK_SECS + 10)) "$TOOL" bulk --via "$VIA" --target "$ORIGIN" \
            --bytes "$BYTES" --dir both --secs "$BULK_SECS"); then
            ups+=("$(kv up_gbps "$out")")
            downs+=("$(kv down_gbps "$out")")
            moved=$((moved + 2 * $(kv bytes "$out")))
            say "   $out"
        else
            say "bench: bulk $path $impl failed"
            show_logs
            NOTES+=("bulk $path $impl: a transfer failed")
            break
        fi
    done
    if [ "${#ups[@]}" -gt 0 ] && alive "${PROCS[@]}"; then
        c1=$(cpu_ticks "${PROCS[@]}")
        R[up.$path.$impl]=$(median "${ups[@]}")
        R[down.$path.$impl]=$(median "${downs[@]}")
        # CPU seconds per 10^9 bytes moved (all repetitions, both directions).
        [ "$path" != direct ] && R[cpu.$path.$impl]=$(calc "($c1 - $c0) / $CLK_TCK / ($moved / 1e9)")
    fi
    teardown
}

run_conns() {
    local impl=$1 path=$2 out i rates=() p50s=() p99s=() c0 c1 done_ok=0
    skip_impl "$impl" && return
    say "-- conns $path $impl"
    if ! setup "$impl" "$path"; then
        say "bench: $impl $path did not start"
        show_logs
        teardown
        return
    fi
    c0=$(cpu_ticks "${PROCS[@]}")
    for ((i = 0; i < REPEAT; i++)); do
        if out=$(timeout $((CONNS_SECS + 15)) "$TOOL" conns --via "$VIA" --target "$ORIGIN" \
            --count "$CONNS" --concurrency "$CONC" --secs "$CONNS_SECS"); then
            rates+=("$(kv rate "$out")")
            p50s+=("$(kv p50_ms "$out")")
            p99s+=("$(kv p99_ms "$out")")
            done_ok=$((done_ok + $(kv ok "$out")))
            say "   $out"
            [ "$(kv err "$out")" = 0 ] || NOTES+=("conns $path $impl: $(kv err "$out") of $CONNS connections failed")
        else
            say "bench: conns $path $impl failed"
            show_logs
            NOTES+=("conns $path $impl: a run failed")
            break
        fi
    done
    if [ "${#rates[@]}" -gt 0 ] && alive "${PROCS[@]}"; then
        R[rate.$path.$impl]=$(median "${rates[@]}")
        R[p50.$path.$impl]=$(median "${p50s[@]}")
        R[p99.$path.$impl]=$(median "${p99s[@]}")
        # CPU microseconds the proxy processes spent per connection (all repetitions).
        c1=$(cpu_ticks "${PROCS[@]}")
        [ "$path" != direct ] && R[ccpu.$path.$impl]=$(calc "($c1 - $c0) / $CLK_TCK / $done_ok * 1e6")
    fi
    teardown
}

run_idle() {
    local impl=$1 path=$2 r0 r1 ok i line idle_pid
    skip_impl "$impl" && return
    say "-- idle $path $impl"
    if ! setup "$impl" "$path"; then
        say "bench: $impl $path did not start"
        show_logs
        teardown
        return
    fi
    # Warm up (threads, a session for mwss), then the baseline.
    timeout 20 "$TOOL" conns --via "$VIA" --target "$ORIGIN" --count 20 --concurrency 2 --secs 10 >/dev/null
    sleep 0.5
    r0=$(rss_kib "${PROCS[@]}")
    start "idle-$impl-$path" "$TOOL" idle --via "$VIA" --target "$ORIGIN" --count "$IDLE" \
        --concurrency "$CONC" --secs 60 --hold 120
    idle_pid=$LAST_PID
    line=
    for ((i = 0; i < 700; i++)); do # up to 70 s
        line=$(grep '^ready' "$WORK/idle-$impl-$path.log" 2>/dev/null)
        [ -n "$line" ] && break
        gone "$idle_pid" && break
        sleep 0.1
    done
    if [ -n "$line" ] && ! alive "${PROCS[@]}"; then
        say "bench: idle $path $impl: a proxy process exited"
        NOTES+=("idle $path $impl: a proxy process exited")
        show_logs
    elif [ -n "$line" ]; then
        sleep 1 # let the last connections settle
        r1=$(rss_kib "${PROCS[@]}")
        ok=$(kv ok "$line")
        if [ "$ok" -gt 0 ]; then
            R[idle.$path.$impl]=$(calc "($r1 - $r0) / $ok")
        fi
        if [ "$(kv err "$line")" != 0 ]; then
            NOTES+=("idle $path $impl: $(kv err "$line") of $IDLE connections failed")
            show_logs
        fi
        say "   $line rss ${r0} -> ${r1} KiB"
    else
        say "bench: idle $path $impl did not get ready: $(tail -3 "$WORK/idle-$impl-$path.log")"
        show_logs
    fi
    stop "$idle_pid"
    teardown
}

ran() { case " $ONLY " in *" $1 "*) return 0 ;; esac; return 1; }

T0=$(date +%s)
case " $ONLY " in *" bulk "*)
    say "== bulk: one stream, $BYTES each way"
    run_bulk ours direct
    for path in $BULK_PATHS; do
        run_bulk ours "$path"
        run_bulk go "$path"
        has_libev "$path" && run_bulk libev "$path"
    done
    ;;
esac
case " $ONLY " in *" conns "*)
    say "== short connections: $CONNS, $CONC at a time"
    run_conns ours direct
    for path in $CONNS_PATHS; do
        run_conns ours "$path"
        run_conns go "$path"
        has_libev "$path" && run_conns libev "$path"
    done
    ;;
esac
case " $ONLY " in *" idle "*)
    say "== idle connections: $IDLE"
    for path in $IDLE_PATHS; do
        run_idle ours "$path"
        run_idle go "$path"
        has_libev "$path" && run_idle libev "$path"
    done
    ;;
esac
stop "$ORIGIN_PID"
T1=$(date +%s)

# ---------------------------------------------------------------------------------------------
# The table.

# fmt VALUE DECIMALS
fmt() { if [ -n "$1" ]; then awk -v v="$1" -v d="$2" 'BEGIN { printf "%.*f", d, v }'; else printf 'n/a'; fi; }
ratio() { if [ -n "$1" ] && [ -n "$2" ]; then awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "n/a"; else printf "%.2f", a / b }'; else printf 'n/a'; fi; }
# verdict RATIO GOAL: GOAL is ">=X", "<=X" or "".
verdict() {
    local r=$1 g=$2
    [ -z "$g" ] && { printf -- '–'; return; }
    [ "$r" = n/a ] && { printf 'n/a'; return; }
    awk -v r="$r" -v op="${g:0:2}" -v x="${g:2}" \
        'BEGIN { ok = (op == ">=") ? (r >= x) : (r <= x); printf "%s", ok ? "yes" : "**no**" }'
}

# row LABEL KEY.PATH DIRECT_KEY DECIMALS GOAL_VS_GO GOAL_VS_DIRECT [GOAL_VS_LIBEV]
row() {
    local label=$1 key=$2 dkey=$3 dec=$4 ggo=$5 gdir=$6 glib=${7:-}
    local ours=${R[$key.ours]:-} go=${R[$key.go]:-} libev=${R[$key.libev]:-} direct=
    [ -n "$dkey" ] && direct=${R[$dkey]:-}
    local rgo rdir
    rgo=$(ratio "$ours" "$go")
    rdir=n/a
    [ -n "$dkey" ] && rdir=$(ratio "$ours" "$direct")
    [ -z "$dkey" ] && rdir=–
    local goal=
    [ -n "$ggo" ] && goal="us/Go ${ggo:0:2} ${ggo:2}"
    [ -n "$gdir" ] && goal="${goal:+$goal, }us/direct ${gdir:0:2} ${gdir:2}"
    # The libev columns only mean something on the ss rows (and when it is installed).
    local lcol=– rlib=–
    if has_libev "${key#*.}"; then
        lcol=$(fmt "$libev" "$dec")
        rlib=$(ratio "$ours" "$libev")
        [ -n "$glib" ] && goal="${goal:+$goal, }us/libev ${glib:0:2} ${glib:2}"
    else
        glib=
    fi
    local met=–
    if [ -n "$ggo" ] || [ -n "$gdir" ] || [ -n "$glib" ]; then
        met=
        [ -n "$ggo" ] && met=$(verdict "$rgo" "$ggo")
        [ -n "$gdir" ] && met="${met:+$met, }$(verdict "$rdir" "$gdir")"
        [ -n "$glib" ] && met="${met:+$met, }$(verdict "$rlib" "$glib")"
    fi
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$label" \
        "$([ -n "$dkey" ] && fmt "$direct" "$dec" || printf '–')" \
        "$(fmt "$ours" "$dec")" "$(fmt "$go" "$dec")" "$lcol" "$rgo" "$rlib" "$rdir" "${goal:-–}" "$met"
}

label() {
    case $1 in
    tcp) echo "tcp forward" ;;
    counted) echo "tcp forward + stats + metrics" ;;
    http) echo "http CONNECT" ;;
    relay) echo "relay (pair)" ;;
    tls | wss | mwss | h2 | h2c | grpc | pht | http2 | quic) echo "$1 (pair)" ;;
    ss-aes) echo "ss aes-256-gcm (pair)" ;;
    ss-chacha) echo "ss chacha20-ietf-poly1305 (pair)" ;;
    ss-2022) echo "ss 2022-blake3-aes-128-gcm (pair)" ;;
    tunnel) echo "reverse tunnel (visitor, server, client)" ;;
    *) echo "$1" ;;
    esac
}

{
    echo
    echo "gost-bench run $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs ($(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)), $((T1 - T0)) s"
    echo "ours: $("$OURS" -V 2>&1 | head -1); Go: $([ "$HAVE_GO" = 1 ] && "$GO_GOST" -V 2>&1 | head -1 || echo n/a)"
    [ "$HAVE_LIBEV" = 1 ] && echo "libev (ss rows): $(ss-server -h 2>&1 | grep -m1 -i shadowsocks-libev)"
    echo "bulk $BYTES per direction; $CONNS short connections, $CONC at a time; $IDLE idle connections;"
    echo "bulk and connection figures: median of $REPEAT runs"
    echo
    echo "| measure | direct | ours | Go | libev | us/Go | us/libev | us/direct | goal | met |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    ran bulk && for path in $BULK_PATHS; do
        case $path in
        tcp | counted) g=">=1.5" d=">=0.9" ;;
        socks5 | http | relay) g=">=1.5" d= ;;
        wss | mwss | h2 | h2c | grpc | pht | http2) g=">=2" d= ;;
        ss-aes | ss-chacha | ss-2022 | tunnel | quic) g=">=1.5" d= ;;
        *) g= d= ;;
        esac
        row "$(label "$path") ↑ Gbit/s" "up.$path" up.direct.ours 2 "$g" "$d" ">=2"
        row "$(label "$path") ↓ Gbit/s" "down.$path" down.direct.ours 2 "$g" "$d" ">=2"
    done
    ran bulk && for path in $BULK_PATHS; do
        row "$(label "$path") CPU s/GB" "cpu.$path" "" 3 "<=0.5" "" "<=0.5"
    done
    ran conns && for path in $CONNS_PATHS; do
        row "$(label "$path") conn/s" "rate.$path" rate.direct.ours 0 ">=2" ""
        row "$(label "$path") p50 ms" "p50.$path" p50.direct.ours 2 "" ""
        row "$(label "$path") p99 ms" "p99.$path" p99.direct.ours 2 "" ""
        row "$(label "$path") CPU µs/conn" "ccpu.$path" "" 0 "" ""
    done
    ran idle && for path in $IDLE_PATHS; do
        row "$(label "$path") idle KiB/conn" "idle.$path" "" 1 "<=0.33" ""
    done
    for n in "${NOTES[@]}"; do echo; echo "note: $n"; done
}

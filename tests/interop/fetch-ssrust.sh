#!/bin/sh
# Builds shadowsocks-rust (a SIP022 reference: ssserver, sslocal) once into a cache outside the
# repository and prints the directory holding the binaries on stdout. Used by
# tests/tests/shadowsocks.rs (through $SSRUST_BIN) and .ci/run; safe to run by hand. Debian has
# no package of it; about 8 minutes on 2 cores the first time, nothing after. Only what the tests
# use is built (server, local, the 2022 ciphers).
set -eu

VERSION=1.25.0
ROOT=${SSRUST_ROOT:-$HOME/.cache/ssrust}
if [ -x "$ROOT/bin/ssserver" ] && [ -x "$ROOT/bin/sslocal" ] &&
    "$ROOT/bin/ssserver" --version 2>/dev/null | grep -q " $VERSION"; then
    echo "$ROOT/bin"
    exit 0
fi
command -v cargo >/dev/null 2>&1 || { echo "fetch-ssrust: cargo is needed" >&2; exit 1; }
echo "fetch-ssrust: building shadowsocks-rust $VERSION into $ROOT (once)" >&2
cargo install --quiet --locked "shadowsocks-rust@$VERSION" --root "$ROOT" \
    --no-default-features --features "server local aead-cipher-2022" >&2
echo "$ROOT/bin"

#!/bin/sh
# Installs the reference Go gost (v3.2.6) once into a cache outside the repository and prints its
# version. Used by tests/tests/interop_go.rs; safe to run by hand.
#
#   tests/interop/fetch-reference.sh        # -> $HOME/.cache/gost-ref/gost
#
# It runs `GOBIN=$HOME/.cache/gost-ref go install github.com/go-gost/gost/cmd/gost@v3.2.6`, unless
# $HOME/.cache/gost-ref/gost exists already. Exits non-zero with a message when Go is not
# installed or the install fails. Nothing is written inside the repository.
#
# Fallback when the module proxy will not serve go-gost's modules: set GOST_REF_SRC to a directory
# holding git clones of the go-gost repositories (gost x core relay gosocks4 gosocks5 plugin
# tls-dissector go-shadowsocks2, each as DIR/NAME or DIR/go-gost+NAME/repo); the script then
# builds gost v3.2.6 from the tags that v3.2.6 pins, with `replace` directives, in the cache.
set -eu

VERSION=v3.2.6
DIR="${HOME:?HOME is not set}/.cache/gost-ref"
BIN="$DIR/gost"

# name:tag pairs pinned by go-gost/gost v3.2.6 (its go.mod, and go-gost/x v0.8.1's).
PINS="gost:v3.2.6 x:v0.8.1 core:v0.3.3 relay:v0.5.0 gosocks4:v0.0.1 gosocks5:v0.4.2
plugin:v0.2.1 tls-dissector:v0.1.1 go-shadowsocks2:v0.1.1"

build_from_git() {
    src="$DIR/src"
    rm -rf "$src"
    mkdir -p "$src"
    for pin in $PINS; do
        name=${pin%%:*}
        tag=${pin#*:}
        repo="$GOST_REF_SRC/$name"
        [ -d "$repo" ] || repo="$GOST_REF_SRC/go-gost+$name/repo"
        if ! git -C "$repo" rev-parse -q --verify "$tag^{commit}" >/dev/null 2>&1; then
            echo "fetch-reference: no tag $tag of go-gost/$name under $GOST_REF_SRC" >&2
            return 1
        fi
        mkdir -p "$src/$name"
        git -C "$repo" archive "$tag" | tar -x -C "$src/$name"
    done
    # gosocks4 v0.0.1 predates its go.mod.
    [ -f "$src/gosocks4/go.mod" ] ||
        printf 'module github.com/go-gost/gosocks4\n\ngo 1.16\n' >"$src/gosocks4/go.mod"
    for pin in $PINS; do
        name=${pin%%:*}
        [ "$name" = gost ] && continue
        (cd "$src/gost" && go mod edit -replace "github.com/go-gost/$name=../$name")
    done
    (cd "$src/gost" && GOFLAGS=-mod=mod go build -trimpath -o "$BIN.tmp" ./cmd/gost) &&
        mv "$BIN.tmp" "$BIN"
}

if [ ! -x "$BIN" ]; then
    if ! command -v go >/dev/null 2>&1; then
        echo "fetch-reference: Go is not installed (no 'go' on PATH); cannot build the reference gost $VERSION" >&2
        exit 1
    fi
    mkdir -p "$DIR"
    echo "fetch-reference: installing github.com/go-gost/gost/cmd/gost@$VERSION into $DIR" >&2
    # Run outside any Go module so no go.mod of the repository plays a part.
    if ! (cd "$DIR" && GOBIN="$DIR" go install "github.com/go-gost/gost/cmd/gost@$VERSION"); then
        if [ -z "${GOST_REF_SRC:-}" ]; then
            echo "fetch-reference: 'go install github.com/go-gost/gost/cmd/gost@$VERSION' failed (set GOST_REF_SRC to build from git clones instead)" >&2
            exit 1
        fi
        echo "fetch-reference: building $VERSION from the git clones in $GOST_REF_SRC" >&2
        if ! build_from_git; then
            echo "fetch-reference: building gost $VERSION from $GOST_REF_SRC failed" >&2
            exit 1
        fi
    fi
fi

"$BIN" -V

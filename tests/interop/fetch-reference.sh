#!/bin/sh
# Installs the reference Go gost (v3.2.6) once into a cache outside the repository and prints its
# version. Used by tests/tests/interop_go.rs; safe to run by hand.
#
#   tests/interop/fetch-reference.sh        # -> $HOME/.cache/gost-ref/gost
#
# It runs `GOBIN=$HOME/.cache/gost-ref go install github.com/go-gost/gost/cmd/gost@v3.2.6`, unless
# $HOME/.cache/gost-ref/gost exists already. Exits non-zero with a message when Go is not
# installed or the install fails. Nothing is written inside the repository.
set -eu

VERSION=v3.2.6
DIR="${HOME:?HOME is not set}/.cache/gost-ref"
BIN="$DIR/gost"

if [ ! -x "$BIN" ]; then
    if ! command -v go >/dev/null 2>&1; then
        echo "fetch-reference: Go is not installed (no 'go' on PATH); cannot install the reference gost $VERSION" >&2
        exit 1
    fi
    mkdir -p "$DIR"
    echo "fetch-reference: installing github.com/go-gost/gost/cmd/gost@$VERSION into $DIR" >&2
    # Run outside any Go module so no go.mod of the repository plays a part.
    if ! (cd "$DIR" && GOBIN="$DIR" go install "github.com/go-gost/gost/cmd/gost@$VERSION"); then
        echo "fetch-reference: 'go install github.com/go-gost/gost/cmd/gost@$VERSION' failed" >&2
        exit 1
    fi
fi

"$BIN" -V

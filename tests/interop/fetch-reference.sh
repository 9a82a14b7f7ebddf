#!/bin/sh
# Builds the reference Go gost once into a cache outside the repository and prints the binary's
# path on stdout (its version on stderr). Used by tests/tests/interop_go.rs, .ci/run and
# bench/run.sh; safe to run by hand.
#
#   tests/interop/fetch-reference.sh            # v3.2.6, the last release -> ~/.cache/gost-ref/gost
#   tests/interop/fetch-reference.sh nightly    # 3.3.0 (upstream main)    -> ~/.cache/gost-ref/gost-3.3.0
#
# The upstream source and the build script live beside the repository in ../shared/reference
# ($GOST_REFERENCE_DIR names another place). `go install github.com/go-gost/gost/cmd/gost@v3.2.6`
# cannot work (no module proxy serves that path), which is why the source is kept there. Needs
# Go; about 1-2 minutes the first time, nothing after. Nothing is written inside the repository.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
REF_DIR=${GOST_REFERENCE_DIR:-$HERE/../../../shared/reference}
SCRIPT="$REF_DIR/build-go-gost.sh"

case "${1:-release}" in
    release | nightly) ;;
    *) echo "usage: $0 [release|nightly]" >&2; exit 2 ;;
esac
if [ ! -f "$SCRIPT" ]; then
    echo "fetch-reference: no $SCRIPT (set GOST_REFERENCE_DIR to the directory holding build-go-gost.sh)" >&2
    exit 1
fi
exec sh "$SCRIPT" "${1:-release}"

#!/usr/bin/env bash
# Debug build of the compiled core, then tests/core against it.
#
# Builds with RANVIER_DEBUG_CYTHON=1 (Cython's boundscheck, wraparound and initializedcheck on,
# cdivision off, C debug info kept: see setup.py) into a temporary copy of this repository, so
# the checkout you run it from and its .so files are never touched, then runs tests/core
# against that copy. An out-of-bounds index in a kernel then raises IndexError instead of
# reading or writing past an array.
#
# Usage: tools/debug_build_test.sh [pytest arguments...]   (e.g. -x, -k conv)
# Environment: JOBS=n parallel compile jobs (default 2); KEEP=1 keeps the copy and prints its path.
# Takes a few minutes: the debug build compiles every module from scratch.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ranvier-debug.XXXXXX")
if [ "${KEEP:-0}" = 1 ]; then
    echo "debug copy kept in $tmp"
else
    trap 'rm -rf "$tmp"' EXIT
fi

# The repository's files as they are now (uncommitted edits included), without its build
# products: git lists tracked and new unignored files, never .so, .c or build/.
(cd "$repo" && git ls-files -z --cached --others --exclude-standard) | while IFS= read -r -d '' f; do
    if [ -e "$repo/$f" ]; then
        mkdir -p "$tmp/$(dirname "$f")"
        cp -p "$repo/$f" "$tmp/$f"
    fi
done

cd "$tmp"
start=$SECONDS
if ! RANVIER_DEBUG_CYTHON=1 python setup.py build_ext --inplace -j "${JOBS:-2}" > build.log 2>&1; then
    tail -n 40 build.log
    echo "debug build failed (log: $tmp/build.log; KEEP=1 keeps it)" >&2
    exit 1
fi
echo "debug build: $((SECONDS - start)) s"

export PYTHONPATH="$tmp/src"
python -c "import ranvier.core, sys; assert ranvier.core.__file__.startswith(sys.argv[1]), ranvier.core.__file__" "$tmp"
python -m pytest -q -p no:cacheprovider tests/core "$@"
echo "debug build and tests/core: $((SECONDS - start)) s"

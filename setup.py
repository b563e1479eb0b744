"""Build the compiled core: every ``src/ranvier/core/*.pyx`` becomes one extension.

OpenMP is probed with the compiler that will build the extensions; without it
the core builds serial (``prange`` runs as a plain loop) and a warning says so.
``RANVIER_DEBUG_CYTHON=1`` turns bounds and wraparound checks back on for a
debug test run; ``RANVIER_BUILD_ONLY=_a,_b`` rebuilds only those
modules while developing; ``RANVIER_NATIVE=1`` adds ``-march=native`` for a local build
only (wheels stay portable).
"""
import glob
import os
import sys
import tempfile
import textwrap
import warnings

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

_OMP_PROBE = textwrap.dedent(
    """
    #include <omp.h>
    int main(void) {
        int n = 0;
        #pragma omp parallel reduction(+:n)
        n += 1;
        return n > 0 ? 0 : 1;
    }
    """
)


def _openmp_flags(compiler):
    """Return (compile_args, link_args) that enable OpenMP, or ([], []) if none works."""
    if sys.platform == "win32":
        candidates = [(["/openmp"], [])]
    elif sys.platform == "darwin":
        candidates = [(["-Xpreprocessor", "-fopenmp"], ["-lomp"]), (["-fopenmp"], ["-fopenmp"])]
    else:
        candidates = [(["-fopenmp"], ["-fopenmp"])]
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "omp_probe.c")
        with open(src, "w") as fh:
            fh.write(_OMP_PROBE)
        for cflags, lflags in candidates:
            try:
                objs = compiler.compile([src], output_dir=tmp, extra_postargs=cflags)
                compiler.link_executable(objs, "omp_probe", output_dir=tmp, extra_postargs=lflags)
                return cflags, lflags
            except Exception:  # noqa: BLE001 - any failure means "not this flag set"
                continue
    warnings.warn("OpenMP not available with this compiler: ranvier's core builds serial.")
    return [], []


class _BuildExt(build_ext):
    def build_extensions(self):
        cflags, lflags = _openmp_flags(self.compiler)
        # -fno-math-errno: a sqrt that may set errno cannot be vectorized (the
        # optimizer updates ran 3x slower); nothing in ranvier reads errno.
        opt = ["/O2"] if self.compiler.compiler_type == "msvc" else ["-O3", "-fno-math-errno"]
        if self.compiler.compiler_type != "msvc" and os.environ.get("RANVIER_DEBUG_CYTHON") != "1":
            # Python's own CFLAGS carry -g: debug info was 80% of the extensions' 21 MB.
            opt.append("-g0")
        if os.environ.get("RANVIER_NATIVE") == "1":
            opt.append("-march=native")
        for ext in self.extensions:
            ext.extra_compile_args = opt + cflags
            ext.extra_link_args = lflags
        super().build_extensions()


def _extensions():
    from Cython.Build import cythonize

    debug = os.environ.get("RANVIER_DEBUG_CYTHON") == "1"
    directives = {
        "language_level": 3,
        "boundscheck": debug,
        "wraparound": debug,
        "cdivision": not debug,
        "initializedcheck": debug,
        "embedsignature": True,
    }
    # The kernels' C lives in core/include/*.h; a header edit must rebuild the modules (setuptools
    # compares ``depends`` with the built file), and every header is listed for every module.
    include = os.path.join("src", "ranvier", "core", "include")
    headers = sorted(glob.glob(os.path.join(include, "*.h")))
    exts = [
        Extension(
            "ranvier.core." + os.path.splitext(os.path.basename(path))[0],
            [path],
            include_dirs=[include],
            depends=headers,
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_9_API_VERSION")],
        )
        for path in sorted(glob.glob(os.path.join("src", "ranvier", "core", "*.pyx")))
    ]
    # Developer convenience: RANVIER_BUILD_ONLY=_conv,_pool rebuilds just those modules
    # (so a half-edited neighbour does not break your build).
    only = [m.strip() for m in os.environ.get("RANVIER_BUILD_ONLY", "").split(",") if m.strip()]
    if only:
        exts = [e for e in exts if e.name.rsplit(".", 1)[1] in only]
    return cythonize(exts, compiler_directives=directives, include_path=["src"], nthreads=int(os.environ.get("RANVIER_BUILD_JOBS", "0")))


setup(ext_modules=_extensions(), cmdclass={"build_ext": _BuildExt})

"""Build the compiled core: every ``src/ranvier/core/*.pyx`` becomes one extension.

Building needs a working C compiler: the build stops with an error naming it
when it cannot compile and link a test program, and when there are no ``.pyx``
sources to build (a broken sdist). OpenMP is probed with that compiler; without
it the core builds serial (``prange`` runs as a plain loop) and a warning says so.
Modules are cythonized and compiled in parallel, one job per core
(``RANVIER_BUILD_JOBS=N`` or ``build_ext -j N`` chooses).
``RANVIER_DEBUG_CYTHON=1`` turns bounds and wraparound checks back on for a
debug test run; ``RANVIER_BUILD_ONLY=_a,_b`` rebuilds only those
modules while developing; ``RANVIER_NATIVE=1`` adds ``-march=native`` for a local build
only (wheels stay portable).
"""

import glob
import json
import os
import shlex
import subprocess
import sys
import sysconfig
import tempfile
import textwrap
import warnings

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

_CORE = os.path.join("src", "ranvier", "core")
# Cython's shared utility module (see _BuildExt._cythonize).
_SHARED = "ranvier.core._cyutility"

_TRIVIAL_PROGRAM = "int main(void) { return 0; }\n"

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


class BuildError(RuntimeError):
    """The compiled core cannot be built here (no sources, or no working C compiler)."""


def _links(compiler, source, tmp, cflags=(), lflags=()):
    """Compile and link ``source`` as a program; return None on success, else the error."""
    src = os.path.join(tmp, "probe.c")
    with open(src, "w") as fh:
        fh.write(source)
    # The executable link does not see LDFLAGS (the shared-object link does), so
    # pass them on: macOS finds libomp through them.
    lflags = list(lflags) + shlex.split(os.environ.get("LDFLAGS", ""))
    try:
        objs = compiler.compile([src], output_dir=tmp, extra_postargs=list(cflags))
        compiler.link_executable(objs, "probe", output_dir=tmp, extra_postargs=lflags)
    except Exception as exc:  # noqa: BLE001 - any failure means "does not build here"
        return exc
    return None


def _check_compiler(compiler):
    """Raise BuildError unless ``compiler`` compiles and links a trivial C program."""
    with tempfile.TemporaryDirectory() as tmp:
        error = _links(compiler, _TRIVIAL_PROGRAM, tmp)
    if error is not None:
        name = (getattr(compiler, "compiler_so", None) or [compiler.compiler_type])[0]
        raise BuildError(
            "ranvier's compiled core needs a working C compiler (with OpenMP for multi-threaded "
            f"kernels) to build from source, and {name!r} could not compile and link a test "
            "program. Install gcc (or clang with libomp), point CC at it, or install a prebuilt "
            f"wheel instead; got {error}"
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
        for cflags, lflags in candidates:
            if _links(compiler, _OMP_PROBE, tmp, cflags, lflags) is None:
                return cflags, lflags
    warnings.warn("OpenMP not available with this compiler: ranvier's core builds serial.", stacklevel=2)
    return [], []


def _libm_flags():
    """Link args for libm: explicit where the platform has one (Linux: only into modules that call it)."""
    if sys.platform.startswith("linux"):
        # --as-needed keeps a DT_NEEDED entry only where a symbol is used (also for
        # libgomp, which modules without a parallel region then do not load).
        return ["-Wl,--as-needed", "-lm"]
    if sys.platform in ("win32", "darwin"):  # the C runtime / libSystem carry the math library
        return []
    return ["-lm"]


def _drop_python_rpaths(compiler):
    """Remove the interpreter's own ``-Wl,-rpath`` from the shared-object link line.

    Python's LDSHARED can carry its install prefix as RUNPATH (pyenv, conda): every
    module would then search the build machine's interpreter directory, though it
    links no library from there. Rpaths a user passes in LDFLAGS stay.
    """
    python_rpaths = {
        arg
        for arg in shlex.split(sysconfig.get_config_var("LDSHARED") or "")
        if arg.startswith(("-Wl,-rpath", "-Wl,-R"))
    }
    linker = getattr(compiler, "linker_so", None)
    if linker and python_rpaths:
        compiler.linker_so = [arg for arg in linker if arg not in python_rpaths]


class _BuildExt(build_ext):
    def finalize_options(self):
        super().finalize_options()
        if self.parallel is None:
            # One job per core (a plain `pip install` builds one module at a time otherwise).
            self.parallel = int(os.environ.get("RANVIER_BUILD_JOBS") or os.cpu_count() or 1)

    def build_extensions(self):
        _check_compiler(self.compiler)
        _drop_python_rpaths(self.compiler)
        self._cythonize()
        cflags, lflags = _openmp_flags(self.compiler)
        # -fno-math-errno: a sqrt that may set errno cannot be vectorized (the
        # optimizer updates ran 3x slower); nothing in ranvier reads errno.
        opt = ["/O2"] if self.compiler.compiler_type == "msvc" else ["-O3", "-fno-math-errno"]
        strip = []
        if self.compiler.compiler_type != "msvc" and os.environ.get("RANVIER_DEBUG_CYTHON") != "1":
            # Python's own CFLAGS carry -g: debug info was 80% of the extensions' 21 MB.
            opt.append("-g0")
            if sys.platform.startswith("linux"):
                # The static symbol tables too (only .dynsym is ever read): 146 KB of a 3.1 MB wheel.
                strip = ["-Wl,--strip-all"]
        if os.environ.get("RANVIER_NATIVE") == "1":
            opt.append("-march=native")
        lflags = lflags + _libm_flags() + strip
        for ext in self.extensions:
            ext.extra_compile_args = opt + cflags
            ext.extra_link_args = lflags
        super().build_extensions()
        self._record_build(opt + cflags, lflags)

    def _build_record(self):
        return os.path.join(os.path.dirname(self.get_ext_fullpath("ranvier.core._openmp")), "_build_info.json")

    def _record_build(self, compile_args, link_args):
        """Write the compiler and flags next to the modules, for ``python -m ranvier info``."""
        import Cython

        driver = getattr(self.compiler, "compiler_so", None) or [self.compiler.compiler_type]
        try:
            version = subprocess.run([driver[0], "--version"], capture_output=True, text=True, check=True)
            compiler = version.stdout.splitlines()[0]
        except (OSError, subprocess.CalledProcessError, IndexError):
            compiler = driver[0]
        record = {
            "compiler": compiler,
            "compile_args": driver[1:] + compile_args,
            "link_args": link_args,
            "cython": Cython.__version__,
        }
        with open(self._build_record(), "w") as fh:
            json.dump(record, fh, indent=1)

    def _cythonize(self):
        """Generate the C sources here, not when setup.py is imported.

        Metadata-only runs (egg_info, sdist) then generate nothing, and the
        generation runs on every core. The largest modules go first so that the
        parallel compile does not end on one long file.
        """
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
        # Cython's utility code (memoryviews above all) goes into one shared module instead of a
        # copy in every extension: each module's C shrank by ~60% (the wheel was over 3 MB).
        shared = [ext for ext in self.extensions if ext.name == _SHARED]
        modules = [ext for ext in self.extensions if ext.name != _SHARED]
        generated = cythonize(
            modules,
            compiler_directives=directives,
            include_path=["src"],
            nthreads=self.parallel if self.parallel > 1 else 0,
            force=self.force,
            shared_utility_qualified_name=_SHARED,
        )
        sources = {ext.name: ext.sources for ext in generated}
        for ext in modules:
            ext.sources = sources[ext.name]
        for ext in shared:
            if self.force or not os.path.exists(ext.sources[0]):
                subprocess.run([sys.executable, "-m", "cython", f"--generate-shared={ext.sources[0]}"], check=True)
        self.extensions.sort(key=lambda ext: -sum(os.path.getsize(s) for s in ext.sources))


def _listing(folder):
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


def _extensions():
    paths = sorted(glob.glob(os.path.join(_CORE, "*.pyx")))
    if not paths:
        raise BuildError(
            f"no Cython sources ({_CORE}/*.pyx) to build ranvier's compiled core from: this "
            "source tree or sdist is incomplete (an sdist must ship the .pyx, .pxd and "
            f"include/*.h files; see MANIFEST.in); got the files {_listing(_CORE)!r}"
        )
    # The kernels' C lives in core/include/*.h; a header edit must rebuild the modules (setuptools
    # compares ``depends`` with the built file), and every header is listed for every module.
    headers = sorted(glob.glob(os.path.join(_CORE, "include", "*.h")))
    exts = [
        Extension(
            "ranvier.core." + os.path.splitext(os.path.basename(path))[0],
            [path],
            include_dirs=[os.path.join(_CORE, "include")],
            depends=headers,
        )
        for path in paths
    ]
    # The shared utility module every extension imports (its C is generated at build time).
    exts.append(Extension(_SHARED, [os.path.join(_CORE, _SHARED.rsplit(".", 1)[1] + ".c")]))
    # Developer convenience: RANVIER_BUILD_ONLY=_conv,_pool rebuilds just those modules
    # (so a half-edited neighbour does not break your build).
    only = [m.strip() for m in os.environ.get("RANVIER_BUILD_ONLY", "").split(",") if m.strip()]
    if only:
        exts = [e for e in exts if e.name.rsplit(".", 1)[1] in only or e.name == _SHARED]
    return exts


setup(ext_modules=_extensions(), cmdclass={"build_ext": _BuildExt})

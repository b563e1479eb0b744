"""The tests every built wheel runs: cibuildwheel's test-command and tools/check_sdist.sh.

Run it from a directory holding copies of the repository's ``tests/`` and
``pyproject.toml`` (never the source tree), with the wheel installed:
``ranvier`` must be the installed one, every compiled module must load, and the
demo and the fast tests (``FAST_TESTS``: the kernels, the demo and the OpenMP
neighbours, ~1 min on 2 cores) must pass.
"""

import importlib
import pathlib
import subprocess
import sys

# test_openmp_runtimes skips unless scikit-learn and PyTorch are installed (check_sdist.sh installs them).
FAST_TESTS = ["tests/core", "tests/test_demo.py", "tests/test_openmp_runtimes.py"]


def _run(*args):
    print("+", " ".join(args), flush=True)
    subprocess.run([sys.executable, *args], check=True)


def main():
    import ranvier

    package = pathlib.Path(ranvier.__file__).parent
    if "site-packages" not in package.parts:
        sys.exit(f"wheel_tests.py must test an installed ranvier, not a source tree; got {package}")
    core = package / "core"
    # A wheel whose extensions were not built still imports `ranvier` (the kernels load lazily).
    modules = sorted(p.name.split(".")[0] for p in core.iterdir() if p.suffix in (".so", ".pyd"))
    if not modules:
        sys.exit(f"the installed wheel was built without its extensions: no compiled module in {core}")
    for name in modules:
        importlib.import_module(f"ranvier.core.{name}")
    print(f"{len(modules)} compiled modules load from {core}")
    _run("-m", "ranvier", "info")
    _run("-m", "ranvier", "demo", "--epochs", "100")
    _run("-m", "pytest", "-q", "-p", "no:cacheprovider", *FAST_TESTS)


if __name__ == "__main__":
    main()

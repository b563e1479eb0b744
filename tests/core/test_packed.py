import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ranvier.core import _packed


def _case(rng, m, k, n, n_blocks, trans_b, dtype, trans_a=False):
    a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(dtype)
    b = rng.standard_normal((n_blocks * n, k) if trans_b else (k, n_blocks * n)).astype(dtype)
    c = rng.standard_normal((m, n_blocks * n)).astype(dtype)
    return a, b, c


def _expected(a, trans_a, b, c, trans_b, n_blocks, col0, col1, accumulate):
    full = (a.T if trans_a else a).astype(np.float64) @ (b.T if trans_b else b).astype(np.float64)
    out = c.astype(np.float64)
    n = c.shape[1] // n_blocks
    for q in range(n_blocks):
        cols = slice(q * n + col0, q * n + col1)
        out[:, cols] = (out[:, cols] if accumulate else 0) + full[:, cols]
    return out


@settings(max_examples=60, deadline=None)
@given(
    m=st.integers(1, 21),
    k=st.integers(0, 40),
    n=st.integers(1, 70),
    n_blocks=st.integers(1, 4),
    trans_a=st.booleans(),
    trans_b=st.booleans(),
    accumulate=st.booleans(),
    double=st.booleans(),
    data=st.data(),
)
def test_packed_matmul_matches_numpy(m, k, n, n_blocks, trans_a, trans_b, accumulate, double, data):
    # Odd sizes exercise the short row tiles, the short column tiles and the padded panels.
    dtype, tol = (np.float64, 1e-12) if double else (np.float32, 1e-5)
    col0 = 16 * data.draw(st.integers(0, n // 16))
    col1 = data.draw(st.integers(col0, n))
    a, b, c = _case(np.random.default_rng(m * 1000 + k * 10 + n), m, k, n, n_blocks, trans_b, dtype, trans_a)
    want = _expected(a, trans_a, b, c, trans_b, n_blocks, col0, col1, accumulate)
    _packed.packed_matmul(a, trans_a, b, trans_b, n_blocks, col0, col1, c, accumulate)
    np.testing.assert_allclose(c, want, rtol=tol, atol=tol * max(k, 1))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_split_columns_give_bit_identical_results(dtype):
    # What the recurrent loops rely on: a thread's column range computes exactly what the whole would.
    a, b, whole = _case(np.random.default_rng(0), 64, 128, 128, 4, False, dtype)
    parts = whole.copy()
    _packed.packed_matmul(a, False, b, False, 4, 0, 128, whole, True)
    _packed.packed_matmul(a, False, b, False, 4, 0, 48, parts, True)
    _packed.packed_matmul(a, False, b, False, 4, 48, 128, parts, True)
    np.testing.assert_array_equal(whole, parts)


def test_packed_matmul_rejects_bad_arguments():
    a, b, c = np.ones((3, 4)), np.ones((4, 10)), np.ones((3, 10))
    with pytest.raises(ValueError, match=r"b must have shape \(4, 4\), got \(4, 10\)"):
        _packed.packed_matmul(a, False, b, True, 1, 0, 4, c, True)
    with pytest.raises(ValueError, match=r"n_blocks must be >= 1 and divide the 10 columns of op\(b\), got 3"):
        _packed.packed_matmul(a, False, b, False, 3, 0, 3, c, True)
    with pytest.raises(ValueError, match="c must have shape \\(3, 10\\), got \\(3, 9\\)"):
        _packed.packed_matmul(a, False, b, False, 1, 0, 10, np.ones((3, 9)), True)
    with pytest.raises(ValueError, match="col0 % 16 == 0"):
        _packed.packed_matmul(a, False, b, False, 1, 3, 10, c, True)


@settings(max_examples=40, deadline=None)
@given(
    m=st.integers(1, 21),
    k=st.integers(0, 40),
    n32=st.integers(1, 3),
    trans_a=st.booleans(),
    accumulate=st.booleans(),
    double=st.booleans(),
)
def test_strided_matmul_matches_numpy(m, k, n32, trans_a, accumulate, double):
    # B read in place, unpacked, as the conv kernel gradient reads dz.
    dtype, tol = (np.float64, 1e-12) if double else (np.float32, 1e-5)
    a, b, c = _case(np.random.default_rng(m * 100 + k), m, k, 32 * n32, 1, False, dtype, trans_a)
    want = (c if accumulate else 0) + (a.T if trans_a else a).astype(np.float64) @ b.astype(np.float64)
    _packed.strided_matmul(a, trans_a, b, c, accumulate)
    np.testing.assert_allclose(c, want, rtol=tol, atol=tol * max(k, 1))


def test_strided_matmul_rejects_widths_off_the_tile():
    with pytest.raises(ValueError, match="multiple of 32 columns, got \\(4, 40\\)"):
        _packed.strided_matmul(np.ones((3, 4)), False, np.ones((4, 40)), np.ones((3, 40)), False)


@pytest.mark.skipif("RANVIER_ISA" in os.environ, reason="already a run on a narrowed build")
@pytest.mark.parametrize("isa", ["avx2", "baseline"])
def test_narrower_builds_pass_the_kernel_tests(isa):
    # The micro-kernels (and the conv kernel built like them) are compiled per vector width
    # and picked per CPU, so a machine would test only its widest. RANVIER_ISA narrows the
    # pick: the kernel tests that use those builds run again under it.
    env = {**os.environ, "RANVIER_ISA": isa}
    probe = subprocess.run(
        [sys.executable, "-c", "from ranvier.core import _packed; print(_packed.packed_isa())"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    if probe.stdout.strip() != isa:
        assert isa == "avx2" and probe.stdout.strip() == "baseline", probe.stdout
        pytest.skip("this CPU has no AVX2 + FMA")
    here = Path(__file__).parent
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-x",
            "-p",
            "no:cacheprovider",
            *(str(here / name) for name in ("test_packed.py", "test_conv.py", "test_recurrent.py", "test_dense.py")),
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]

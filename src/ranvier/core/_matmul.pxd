# The matrix products kernels use: cimport them from here, never from _blas or _packed directly,
# with one exception: a module that cimports this pxd loads scipy's BLAS when it is imported
# (Cython imports every cdef function a cimported pxd names, used or not), so the conv kernels,
# which run on the packed path only and must not load scipy, cimport _packed itself.
#
# Two paths, chosen by the shape of the work, not by the caller's taste:
#
# gemm (``_blas.pyx``): scipy's BLAS behind one row-major shim. For products done once per call
#     on whole operands (large, any shape): BLAS's own packing and cache blocking win there, and
#     gemm() splits C over OpenMP threads when the API holds BLAS at one thread. Used by
#     _dense (forward, dkernel, dx on larger kernels), _maxout (forward and backward) and _recurrent (dx of all
#     timesteps at once: one (T*B, 4u) x (4u, in) product). gemm_serial is the same product as
#     one BLAS call on the calling thread, for kernels that split rows over threads themselves
#     (_dense's fused row blocks): inside their prange, BLAS runs one thread (compute scope).
#
# packed micro-kernel (``_packed.pxd``, C in include/rv_packed.h): for many small products against
#     the same right operand. Pack it once (``pack``), then ``packed_gemm`` per block; or, for an
#     operand used once whose width is a multiple of 32, ``strided_gemm`` reads it in place.
#     Every element is one fixed sequence of fused multiply-adds, so splitting columns or blocks
#     over threads never changes a result. Used by _recurrent (the recurrent kernel at every
#     timestep, and the per-step weight gradients: BLAS repacked the kernel on every call and
#     ran 92 against 230-240 GFLOP/s here), by the conv kernels (_convblocks: each thread
#     multiplies its block of a few hundred gathered rows while it is in L2) and by _dense, on
#     AVX-512 only, for kernels of at most PACKED_MAX_KERNEL values (forward per 96-row block with the bias and
#     ReLU applied in cache; the row-blocked backward's products): BLAS zero-filled the output
#     and packed both operands on every call.
from ranvier.core._blas cimport add_partials, gemm, gemm_serial
from ranvier.core._packed cimport (pack, packed_alloc, packed_block, packed_free, packed_gemm, packed_isa_code,
                                   packed_len, strided_gemm)

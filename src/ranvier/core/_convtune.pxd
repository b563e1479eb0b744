# Tuning constants of the conv kernels (_conv, _convpool, _convblocks): block sizes and thread grains.
# Measured on one core at W2's convs unless said otherwise (docs/conv.md).

cdef enum:
    # Multiply-adds per thread before a second thread is worth starting.
    PRODUCT_GRAIN = 1 << 17
    # Rows of a forward or input-gradient block: its columns (256 x k) stay in L2 between
    # the gather and the product (W2's second conv: 256 x 288 floats, 288 KB).
    BLOCK_ROWS = 256
    # Rows of a kernel-gradient block: a tile's slices of the columns and of dz (8 and 32
    # values per row) stay in L1 across the block (measured one core: 128 rows 1.33 ms,
    # 256 rows 2.2 ms at 7744x288x64).
    GRAD_ROWS = 128
    # The rows of dkernel a thread owns are a multiple of the tallest micro-kernel tile.
    TILE_ROWS = 8
    # Fewer rows of dkernel than this, and the kernel gradient splits the column rows
    # instead: W2's first conv (k = 9) split 8 + 1, each thread rebuilding every block of
    # dz and the 1-row share padded to a whole tile, ran no faster on two threads than one.
    SPLIT_K = 64
    # Rows of such a split's chunks, and the most values all its partial sums may take.
    CHUNK_ROWS = 8 * GRAD_ROWS
    PARTIALS_LEN = 1 << 20
    # Most groups of whole images a backward cuts the batch into (``images_per_group``).
    IMAGE_CHUNKS = 16
    # Values per thread work unit when the partial sums are added up.
    ADD_BLOCK = 4096

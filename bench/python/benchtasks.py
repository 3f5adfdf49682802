# SPDX-License-Identifier: ISC
"""The CPU-bound function every executor in bench.py runs (importable by
name, so drover's workers, multiprocessing.Pool and ProcessPoolExecutor all
run the very same code)."""


def cpu(x, iters):
    """Pure-Python arithmetic, `iters` rounds; the result depends on x, so a
    wrong or swapped result shows."""
    s = x
    for i in range(iters):
        s = (s * 31 + i) & 0xFFFFFFFF
    return s

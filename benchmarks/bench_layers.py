"""Course layers, forward + backward (Adam: one update): ours vs the NumPy twin vs torch.

The cases are :data:`cs231n_fast.benchmarking.LAYER_CASES`, the table ``cs231n-fast bench
--kernels layers`` uses (issue 13's layers at its shapes), float32 and float64. One group per
case × dtype holds:

* ``fast``: the course API (:mod:`cs231n_fast.layers`, ``rnn_layers``, ``optim``);
* ``reference``: the NumPy twin where :mod:`cs231n_fast.reference` has the course's functions
  with the course's signature (skipped otherwise);
* ``torch``: the PyTorch counterpart with autograd (``torch.optim.Adam.step`` for Adam), when
  torch is importable.

Run: ``pytest benchmarks/bench_layers.py --benchmark-only [--bench-threads N] [--bench-quick]``.
Every implementation is checked once against torch in float64 before timing. pytest-benchmark
times the implementations one after the other; on a shared machine prefer ``cs231n-fast bench
--kernels layers``, whose ratios come from settled, interleaved rounds.
"""

import pytest

from cs231n_fast import benchmarking as bm

PARAMS = [
    pytest.param(case, dtype, impl, id=f"{case.id}-{dtype}-{impl}")
    for case in bm.LAYER_CASES
    for dtype in case.dtypes
    for impl in case.impls
]


@pytest.mark.parametrize("case, dtype, impl", PARAMS)
def test_layer_forward_backward(bench_case, case, dtype, impl):
    bench_case(case, dtype, impl)

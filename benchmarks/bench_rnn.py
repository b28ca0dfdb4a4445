"""LSTM forward + backward: fast vs reference vs the six NumPy products vs torch.

The cases are :data:`cs231n_fast.benchmarking.LSTM_CASES`, the table ``cs231n-fast bench``
uses: one LSTM step and a T=16 sequence at N=64, D=256, H=512, float32 and float64. One group
per case × dtype holds:

* ``fast``: :mod:`cs231n_fast.ops.rnn`; ``reference``: the NumPy twin, BLAS on the bench
  threads;
* ``six_matmuls`` (step only): the step's six products alone in NumPy, the floor a NumPy step
  cannot beat;
* ``torch``: ``torch.nn.LSTMCell`` (step) / ``torch.nn.LSTM(batch_first=True)`` (sequence)
  with the same weights and upstream gradients, when torch is importable.

Run: ``pytest benchmarks/bench_rnn.py --benchmark-only [--bench-threads N] [--bench-quick]``.
Nothing here asserts a speed; every implementation is checked once before timing (see
:func:`cs231n_fast.benchmarking.check_result`).
"""

import pytest

from cs231n_fast import benchmarking as bm

PARAMS = [
    pytest.param(case, dtype, impl, id=f"{case.id}-{dtype}-{impl}")
    for case in bm.LSTM_CASES
    for dtype in case.dtypes
    for impl in case.impls
]


@pytest.mark.parametrize("case, dtype, impl", PARAMS)
def test_lstm_forward_backward(bench_case, case, dtype, impl):
    bench_case(case, dtype, impl)

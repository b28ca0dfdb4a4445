"""Whole training steps of the course networks: ours vs the same network in torch.

The cases are :data:`cs231n_fast.benchmarking.MODEL_CASES`, the table ``cs231n-fast bench
--kernels models`` uses: ThreeLayerConvNet (N=50; float32 and float64), a VGG-style
``nn.Sequential`` with and without spatial batch normalisation (N=64), FullyConnectedNet
[512, 256, 128, 64] with batchnorm and dropout 0.5 (N=100; float32 and float64) and
CaptioningRNN with an LSTM (N=50, T=16). A step is the loss, every gradient and an Adam update
of every parameter (see :mod:`cs231n_fast.bench.models`).

Run: ``pytest benchmarks/bench_models.py --benchmark-only [--bench-threads N] [--bench-quick]``.
The loss and gradients of each implementation's first step are checked once against torch in
float64 before timing (the dropout network without dropout). On a shared machine prefer
``cs231n-fast bench --kernels models``, whose ratios come from settled, interleaved rounds.
"""

import pytest

from cs231n_fast import benchmarking as bm

PARAMS = [
    pytest.param(case, dtype, impl, id=f"{case.id}-{dtype}-{impl}")
    for case in bm.MODEL_CASES
    for dtype in case.dtypes
    for impl in case.impls
]


@pytest.mark.parametrize("case, dtype, impl", PARAMS)
def test_training_step(bench_case, case, dtype, impl):
    bench_case(case, dtype, impl)

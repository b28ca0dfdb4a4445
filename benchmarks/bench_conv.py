"""Convolution forward + backward: fast vs reference vs torch, one group per case × dtype."""

import pytest

from cs231n_fast import benchmarking as bm


@pytest.mark.parametrize("impl", bm.IMPLS)
@pytest.mark.parametrize("dtype", bm.DTYPES)
@pytest.mark.parametrize("case", bm.CONV_CASES, ids=lambda case: case.id)
def test_conv_forward_backward(bench_case, case, dtype, impl):
    bench_case(case, dtype, impl)

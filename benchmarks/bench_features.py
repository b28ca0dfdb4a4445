"""Image features (HOG + hue histogram of every image, as assignment 1's features.ipynb): fast vs
the course's per-image loop (reference), one group per case."""

import pytest

from cs231n_fast import benchmarking as bm


@pytest.mark.parametrize("impl", bm.FeaturesCase.impls)
@pytest.mark.parametrize("dtype", bm.FeaturesCase.dtypes)
@pytest.mark.parametrize("case", bm.FEATURES_CASES, ids=lambda case: case.id)
def test_extract_features_hog_hsv(bench_case, case, dtype, impl):
    bench_case(case, dtype, impl)

"""The tolerance helper itself must be able to fail: small entries are checked too."""

import numpy as np
import pytest
from helpers import ATOL, RTOL, assert_matches_reference


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_assert_matches_reference_checks_small_entries(dtype):
    # Entries from 1e-5 to 3e-5 of the largest: the old float32 atol (2e-4 * max) passed them
    # zeroed, with the wrong sign, or nonzero where the reference is exactly 0.
    expected = np.array([1.0, 1e-3, 3e-5, -2e-5, 0.0])
    assert_matches_reference(expected.astype(dtype), expected, dtype)  # its own rounding passes
    for bad in ([1, 1e-3, 0, -2e-5, 0], [1, 1e-3, 3e-5, 2e-5, 0], [1, 1e-3, 3e-5, -2e-5, 3e-5]):
        with pytest.raises(AssertionError):
            assert_matches_reference(np.array(bad, dtype), expected, dtype)


def test_tolerances_are_those_stated():
    # float32: relative 2e-4, absolute 1e-5 of the largest reference entry (not 2e-4: see
    # helpers.ATOL); float64: 1e-9 both.
    assert RTOL[np.dtype(np.float32)] == 2e-4 and ATOL[np.dtype(np.float32)] == 1e-5
    assert RTOL[np.dtype(np.float64)] == ATOL[np.dtype(np.float64)] == 1e-9

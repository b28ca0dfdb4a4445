"""Shared test helpers: the tolerance table, layouts, numerical gradients."""

import numpy as np

#: Relative tolerance per dtype. The reference runs in float64 on the float64 cast of the same
#: inputs.
RTOL = {np.dtype(np.float64): 1e-9, np.dtype(np.float32): 2e-4}
#: Absolute tolerance per dtype, as a share of max|reference| (outputs hold exact zeros, and
#: entries that come out of cancellation carry an absolute error of the size of the others').
#: float32 used to take rtol * max = 2e-4 * max, which let any entry below 1e-4 * max be wrong
#: by its own size (even zeroed or of the wrong sign). 1e-5 is 14x the largest absolute error
#: of any float32 comparison in the suite (7e-7 * max, measured; a test whose inputs carry a
#: larger error, such as a large offset, states its own atol).
ATOL = {np.dtype(np.float64): 1e-9, np.dtype(np.float32): 1e-5}

LAYOUTS = ("C", "F", "sliced", "negative", "readonly")


def assert_matches_reference(actual, expected, dtype, what="", atol=None):
    """Compare a fast result with a float64 reference within the dtype's tolerance: every entry
    within ``RTOL * |reference| + atol``, ``atol`` by default ``ATOL * max|reference|``."""
    dtype = np.dtype(dtype)
    assert actual.dtype == dtype, f"{what}: dtype {actual.dtype}, expected {dtype}"
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    if atol is None:
        atol = ATOL[dtype] * (float(np.max(np.abs(expected))) if expected.size else 0.0)
    np.testing.assert_allclose(actual, expected, rtol=RTOL[dtype], atol=atol, err_msg=what)


def as_layout(a, layout):
    """A copy of ``a`` with the same values in the given memory layout."""
    a = np.asarray(a)
    if layout == "C":
        return np.ascontiguousarray(a)
    if layout == "F":
        return np.asfortranarray(a)
    if layout == "sliced":  # every other element of a larger buffer along the last axis
        big = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), dtype=a.dtype)
        big[..., ::2] = a
        return big[..., ::2]
    if layout == "negative":  # negative strides along every axis
        rev = (slice(None, None, -1),) * a.ndim
        return np.ascontiguousarray(a[rev])[rev]
    if layout == "readonly":
        r = np.array(a)
        r.setflags(write=False)
        return r
    raise ValueError(layout)


def numerical_grad(f, x, df, h=1e-6):
    """Centred-difference gradient of ``sum(f(x) * df)`` with respect to ``x`` (float64)."""
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        fp = np.sum(f(x) * df)
        x[i] = old - h
        fm = np.sum(f(x) * df)
        x[i] = old
        grad[i] = (fp - fm) / (2 * h)
    return grad


def rel_error(a, b):
    """Max relative error, as in the course's notebooks."""
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def grad_error(analytic, numeric):
    """The error of an analytic gradient against a centred-difference one, relative to the
    gradient's scale: ``max|analytic - numeric| / max|numeric|``.

    A centred difference carries an absolute error: the rounding of the summed outputs
    (about eps times their size) divided by 2h, ~1e-8 at h = 1e-6 for the tests' sizes, and
    its last bits depend on the BLAS kernel that computed the outputs. The elementwise
    :func:`rel_error` of an entry near 0 measures only that rounding (in several tests it sat
    within 2x of 1e-7, and above it with OpenBLAS's Sandybridge kernels); against the largest
    entry it is ~1e-9, while a wrong gradient is off by O(1). Raises if the numerical gradient
    is ~0 (a degenerate check).
    """
    analytic, numeric = np.asarray(analytic, np.float64), np.asarray(numeric, np.float64)
    assert analytic.shape == numeric.shape, f"shape {analytic.shape} != {numeric.shape}"
    scale = float(np.max(np.abs(numeric)))
    assert scale > 1e-6, "degenerate gradient check: the numerical gradient is ~0"
    return float(np.max(np.abs(analytic - numeric))) / scale


def spaced(rng, shape, step=0.01):
    """Distinct values at least ``step`` apart in random order (no ties, no near-ties)."""
    n = int(np.prod(shape))
    v = (np.arange(n) - n / 2) * step
    return rng.permutation(v).reshape(shape)

"""Loss kernels (csrc/losses.pyx): ops.losses.softmax_loss / svm_loss and
ops.temporal.temporal_softmax_loss against their NumPy twins, numerical gradients, PyTorch
(float64, to 1e-9), thread counts (bitwise), bad input, extreme scores and input immutability.

The twins run in float64 on the float64 cast of the same inputs; results agree within
tests.helpers.RTOL for the dtype.
"""

import math

import numpy as np
import pytest
from helpers import LAYOUTS, RTOL, as_layout, assert_matches_reference, numerical_grad, rel_error, spaced
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cs231n_fast import layers, reference
from cs231n_fast.ops import losses, temporal
from cs231n_fast.reference import losses as ref_losses

KINDS = ["softmax", "svm"]


def fuzz(n):
    return settings(max_examples=n, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def fast(kind):
    return getattr(losses, f"{kind}_loss")


def twin(kind):
    return getattr(ref_losses, f"{kind}_loss")


def f64(a):
    return np.asarray(a, dtype=np.float64)


def assert_loss_close(actual, expected, dtype):
    assert isinstance(actual, float)
    rtol = RTOL[np.dtype(dtype)]
    assert actual == pytest.approx(expected, rel=rtol, abs=rtol)


def scores(rng, n, c, scale=3.0):
    """Scores whose hinge margins x_j - x_y + 1 keep clear of 0 (no kink within float32
    rounding, where the SVM gradient would legitimately differ between dtypes)."""
    x = rng.standard_normal((n, c)) * scale
    y = rng.integers(0, c, n)
    hinge = x - x[np.arange(n), y][:, None] + 1
    x = np.where(np.abs(hinge) < 1e-3, x + 1e-2, x)
    return x, y


# --- against the twin -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@fuzz(60)
@given(
    n=st.integers(1, 40),
    c=st.integers(1, 70),
    dtype=st.sampled_from([np.float32, np.float64]),
    layout=st.sampled_from(LAYOUTS),
    seed=st.integers(0, 2**32 - 1),
    n_threads=st.sampled_from([None, 1, 2, 3]),
)
def test_loss_matches_reference(kind, n, c, dtype, layout, seed, n_threads):
    rng = np.random.default_rng(seed)
    x, y = scores(rng, n, c)
    x = x.astype(dtype)
    loss, dx = fast(kind)(as_layout(x, layout), as_layout(y, layout), n_threads=n_threads)
    ref_loss, ref_dx = twin(kind)(f64(x), y)
    assert_loss_close(loss, ref_loss, dtype)
    assert_matches_reference(dx, ref_dx, dtype, "dx")
    assert dx.flags.c_contiguous and dx.flags.writeable


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n, c", [(1, 1), (1, 7), (7, 1), (5, 16), (13, 17), (3, 203), (64, 1000)])
def test_loss_shapes(rng, dtype, kind, n, c):
    x, y = scores(rng, n, c)
    loss, dx = fast(kind)(x.astype(dtype), y)
    ref_loss, ref_dx = twin(kind)(x.astype(dtype).astype(np.float64), y)
    assert_loss_close(loss, ref_loss, dtype)
    assert_matches_reference(dx, ref_dx, dtype, "dx")


@pytest.mark.parametrize("kind", KINDS)
def test_course_functions_are_the_ops(rng, dtype, kind):
    x, y = scores(rng, 9, 11)
    x = x.astype(dtype)
    loss, dx = getattr(layers, f"{kind}_loss")(x, y)
    ops_loss, ops_dx = fast(kind)(x, y)
    assert loss == ops_loss
    np.testing.assert_array_equal(dx, ops_dx)


def test_reference_is_the_course_formula(rng):
    # The twin against plain per-sample loops of the course's definitions.
    x, y = scores(rng, 6, 5)
    n, c = x.shape
    soft, hinge = 0.0, 0.0
    dsoft, dhinge = np.zeros_like(x), np.zeros_like(x)
    for i in range(n):
        p = np.exp(x[i] - x[i].max())
        p /= p.sum()
        soft -= math.log(p[y[i]])
        dsoft[i] = p
        dsoft[i, y[i]] -= 1
        for j in range(c):
            if j != y[i] and x[i, j] - x[i, y[i]] + 1 > 0:
                hinge += x[i, j] - x[i, y[i]] + 1
                dhinge[i, j] += 1
                dhinge[i, y[i]] -= 1
    for kind, want, dwant in (("softmax", soft, dsoft), ("svm", hinge, dhinge)):
        loss, dx = twin(kind)(x, y)
        assert loss == pytest.approx(want / n, rel=1e-13)
        np.testing.assert_allclose(dx, dwant / n, rtol=1e-13, atol=1e-16)


# --- gradients ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n, c", [(5, 4), (3, 19), (1, 2)])
def test_loss_gradcheck(rng, kind, n, c):
    # SVM: scores 0.3 apart, so score differences are multiples of 0.3 and no hinge lies within
    # the step of its kink. Softmax: 0.05 apart, so no probability is so small that the
    # differences' rounding dominates it.
    x = spaced(rng, (n, c), 0.3 if kind == "svm" else 0.05)
    y = rng.integers(0, c, size=n)
    _, dx = fast(kind)(x, y)
    num = numerical_grad(lambda a: np.array(fast(kind)(a, y)[0]), x, 1.0, h=1e-5)
    assert rel_error(dx, num) < 1e-7


def test_temporal_softmax_loss_gradcheck(rng):
    n, t, v = 2, 3, 7
    x = rng.standard_normal((n, t, v))
    y = rng.integers(0, v, (n, t))
    mask = np.array([[1, 1, 0], [1, 0, 1]], bool)
    _, dx = temporal.temporal_softmax_loss(x, y, mask)
    num = numerical_grad(lambda a: np.array(temporal.temporal_softmax_loss(a, y, mask)[0]), x, 1.0, h=1e-5)
    assert rel_error(dx, num) < 1e-7


# --- thread counts: bitwise ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n, c", [(301, 203), (64, 1000), (1000, 37)])
def test_loss_bitwise_across_threads(rng, dtype, kind, n, c):
    x, y = scores(rng, n, c)
    x = x.astype(dtype)
    x[5, 3] = np.nan  # a NaN row stays NaN whoever computes it
    results = [fast(kind)(x, y, n_threads=k) for k in (1, 2, 3, 4)]
    for loss, dx in results[1:]:
        assert np.array_equal(loss, results[0][0], equal_nan=True)
        np.testing.assert_array_equal(dx, results[0][1])


def test_temporal_softmax_loss_bitwise_across_threads(rng, dtype):
    x = rng.standard_normal((20, 9, 301)).astype(dtype)
    y = rng.integers(0, 301, (20, 9))
    mask = rng.random((20, 9)) < 0.7
    results = [temporal.temporal_softmax_loss(x, y, mask, n_threads=k) for k in (1, 2, 3)]
    for loss, dx in results[1:]:
        assert loss == results[0][0]
        np.testing.assert_array_equal(dx, results[0][1])


# --- PyTorch, float64 ----------------------------------------------------------------------------


def _torch_grad(fn, x):
    torch = pytest.importorskip("torch")
    tx = torch.tensor(x, requires_grad=True)
    loss = fn(tx)
    loss.backward()
    return float(loss.detach()), tx.grad.numpy()


@pytest.mark.parametrize("n, c", [(1, 1), (7, 5), (50, 203), (200, 1000)])
def test_softmax_loss_matches_torch(rng, n, c):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x, y = scores(rng, n, c, scale=5.0)
    want, dwant = _torch_grad(lambda t: F.cross_entropy(t, torch.tensor(y)), x)
    loss, dx = losses.softmax_loss(x, y)
    assert loss == pytest.approx(want, rel=1e-9, abs=1e-12)
    np.testing.assert_allclose(dx, dwant, rtol=1e-9, atol=1e-9 * np.abs(dwant).max())


@pytest.mark.parametrize("n, c", [(1, 1), (7, 5), (50, 203), (200, 1000)])
def test_svm_loss_matches_torch(rng, n, c):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x, y = scores(rng, n, c)
    # torch divides each sample's hinge sum by C; the course averages the sums over N.
    want, dwant = _torch_grad(lambda t: F.multi_margin_loss(t, torch.tensor(y), margin=1.0, reduction="sum") * c / n, x)
    loss, dx = losses.svm_loss(x, y)
    assert loss == pytest.approx(want, rel=1e-9, abs=1e-12)
    np.testing.assert_allclose(dx, dwant, rtol=1e-9, atol=1e-12)


def test_temporal_softmax_loss_matches_torch(rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    n, t, v = 6, 5, 101
    x = rng.standard_normal((n, t, v)) * 4
    y = rng.integers(0, v, (n, t))
    mask = rng.random((n, t)) < 0.6

    def fn(tx):
        per = F.cross_entropy(tx.reshape(n * t, v), torch.tensor(y.reshape(-1)), reduction="none")
        return (per * torch.tensor(mask.reshape(-1), dtype=torch.float64)).sum() / n

    want, dwant = _torch_grad(fn, x)
    loss, dx = temporal.temporal_softmax_loss(x, y, mask)
    assert loss == pytest.approx(want, rel=1e-9)
    np.testing.assert_allclose(dx, dwant, rtol=1e-9, atol=1e-9 * np.abs(dwant).max())


# --- extreme scores, NaN ---------------------------------------------------------------------------


@pytest.mark.filterwarnings("error")
def test_softmax_loss_extreme_scores(dtype):
    x = np.full((3, 5), -1e4, dtype)
    x[0, 2] = 1e4  # correct and certain
    x[1, 4] = 1e4  # wrong and certain: loss 2e4
    x[2] = 1e4  # all equal: loss log 5
    y = np.array([2, 0, 1])
    with np.errstate(all="raise"):
        loss, dx = losses.softmax_loss(x, y)
    assert loss == pytest.approx((0 + 2e4 + math.log(5)) / 3, rel=RTOL[dtype])
    assert np.isfinite(dx).all()
    want = np.zeros((3, 5))
    want[1, 0], want[1, 4] = -1, 1
    want[2] = 0.2
    want[2, 1] = -0.8
    assert_matches_reference(dx, want / 3, dtype, "dx")
    assert not dx[0].any()  # p_y = 1 exactly, the others exactly 0


@pytest.mark.filterwarnings("error")
def test_svm_loss_extreme_scores(dtype):
    x = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]], dtype)
    with np.errstate(all="raise"):
        loss, dx = losses.svm_loss(x, np.array([0, 0]))
    assert loss == pytest.approx((0 + 2 * (2e4 + 1)) / 2, rel=RTOL[dtype])
    np.testing.assert_array_equal(dx, np.array([[0, 0, 0], [-1, 0.5, 0.5]], dtype))


@pytest.mark.parametrize("kind", KINDS)
def test_loss_nan_propagates(rng, dtype, kind):
    x, y = scores(rng, 4, 6)
    x = x.astype(dtype)
    x[1, (y[1] + 1) % 6] = np.nan
    loss, dx = fast(kind)(x, y)
    ref_loss, _ = twin(kind)(f64(x), y)
    assert math.isnan(loss) and math.isnan(ref_loss)
    if kind == "softmax":
        assert np.isnan(dx[1]).all()
    clean = [0, 2, 3]
    _, want = twin(kind)(f64(x[clean]), y[clean])
    assert_matches_reference(dx[clean], want * 3 / 4, dtype, "dx of the rows without NaN")


def test_softmax_loss_infinite_scores_like_numpy():
    x = np.array([[np.inf, 0.0, 1.0], [-np.inf, 0.0, 1.0], [-np.inf, -np.inf, -np.inf]])
    y = np.array([1, 0, 2])
    with np.errstate(all="ignore"):
        ref_loss, ref_dx = ref_losses.softmax_loss(x, y)
    loss, dx = losses.softmax_loss(x, y)
    assert math.isnan(loss) and math.isnan(ref_loss)
    np.testing.assert_array_equal(np.isnan(dx), np.isnan(ref_dx))
    np.testing.assert_allclose(dx[1], ref_dx[1], rtol=1e-12)  # exp(-inf) = 0: an ordinary row


# --- dtypes, layouts, inputs unchanged -------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("impl", ["fast", "twin"])
def test_loss_dtype_policy(rng, kind, impl):
    fn = fast(kind) if impl == "fast" else twin(kind)
    x, y = scores(rng, 5, 4)
    assert fn(x.astype(np.float32), y)[1].dtype == np.float32
    assert fn(x, y)[1].dtype == np.float64
    assert fn(x.astype(np.float16), y)[1].dtype == np.float64
    loss, dx = fn(np.round(x).astype(np.int16), y)
    assert dx.dtype == np.float64 and isinstance(loss, float)
    for ydt in (np.int8, np.uint8, np.int32, np.uint64, ">i8"):
        loss2, dx2 = fn(x, y.astype(ydt))
        assert loss2 == fn(x, y)[0]
    assert fn(x.tolist(), y.tolist())[0] == fn(x, y)[0]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_loss_layouts_bitwise(rng, dtype, kind, layout):
    x, y = scores(rng, 7, 9)
    x = x.astype(dtype)
    loss, dx = fast(kind)(x, y)
    loss2, dx2 = fast(kind)(as_layout(x, layout), as_layout(y, layout))
    assert loss2 == loss
    np.testing.assert_array_equal(dx2, dx)


@pytest.mark.parametrize("kind", KINDS)
def test_loss_inputs_unchanged(rng, kind):
    x, y = scores(rng, 6, 8)
    x32 = x.astype(np.float32)
    for args in ((x, y), (x32, y.astype(np.int32))):
        before = [a.copy() for a in args]
        _, dx = fast(kind)(*args)
        for a, b in zip(args, before):
            np.testing.assert_array_equal(a, b)
        assert not np.shares_memory(dx, args[0])


def test_temporal_softmax_loss_inputs_unchanged(rng):
    x = rng.standard_normal((3, 4, 9)).astype(np.float32)
    y = rng.integers(0, 9, (3, 4))
    mask = rng.random((3, 4)) < 0.5
    before = [a.copy() for a in (x, y, mask)]
    _, dx = temporal.temporal_softmax_loss(x, y, mask)
    for a, b in zip((x, y, mask), before):
        np.testing.assert_array_equal(a, b)
    assert not np.shares_memory(dx, x)


# --- temporal softmax loss against its twin ---------------------------------------------------------


@fuzz(40)
@given(
    n=st.integers(1, 6),
    t=st.integers(1, 6),
    v=st.integers(1, 40),
    dtype=st.sampled_from([np.float32, np.float64]),
    layout=st.sampled_from(LAYOUTS),
    mask_kind=st.sampled_from(["bool", "int", "uint8"]),
    seed=st.integers(0, 2**32 - 1),
    n_threads=st.sampled_from([None, 1, 2, 3]),
)
def test_temporal_softmax_loss_matches_reference(n, t, v, dtype, layout, mask_kind, seed, n_threads):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((n, t, v)) * 3).astype(dtype)
    y = rng.integers(0, v, (n, t))
    mask = (rng.random((n, t)) < 0.7).astype({"bool": bool, "int": np.int64, "uint8": np.uint8}[mask_kind])
    loss, dx = temporal.temporal_softmax_loss(as_layout(x, layout), as_layout(y, layout), as_layout(mask, layout),
                                              n_threads=n_threads)
    ref_loss, ref_dx = reference.temporal_softmax_loss(f64(x), y, mask)
    assert_loss_close(loss, ref_loss, dtype)
    assert_matches_reference(dx, ref_dx, dtype, "dx")
    assert not dx[mask == 0].any()


def test_temporal_softmax_loss_equals_softmax_loss_rows(rng, dtype):
    # Unmasked, one time step: the temporal loss is the (N, V) softmax loss, bit for bit.
    x = rng.standard_normal((11, 1, 37)).astype(dtype)
    y = rng.integers(0, 37, (11, 1))
    loss, dx = temporal.temporal_softmax_loss(x, y, np.ones((11, 1), bool))
    loss2, dx2 = losses.softmax_loss(x[:, 0], y[:, 0])
    assert loss == loss2
    np.testing.assert_array_equal(dx[:, 0], dx2)


def test_temporal_softmax_loss_verbose(rng, capsys):
    temporal.temporal_softmax_loss(rng.standard_normal((2, 3, 4)), np.zeros((2, 3), int), np.ones((2, 3), bool), verbose=True)
    assert capsys.readouterr().out.strip() == "dx_flat:  (6, 4)"


# --- bad input -------------------------------------------------------------------------------------

_X = np.zeros((3, 4))
_Y = np.array([0, 1, 3])

BAD = [
    ("y-too-large", lambda f: f(_X, np.array([0, 1, 4])), ValueError, r"^y must hold class labels in \[0, C\) = \[0, 4\) for the C columns of x \(3, 4\); got 4$"),
    ("y-negative", lambda f: f(_X, np.array([0, -1, 2])), ValueError, r"^y must hold non-negative integer class labels; got -1$"),
    ("y-float", lambda f: f(_X, np.array([0.0, 1.0, 2.0])), TypeError, r"^y must hold non-negative integer class labels; got dtype float64"),
    ("y-bool", lambda f: f(_X, np.array([True, False, True])), TypeError, r"^y must hold non-negative integer class labels; got dtype bool"),
    ("y-short", lambda f: f(_X, np.array([0, 1])), ValueError, r"^y must have one label per sample \(3\); got 2"),
    ("y-2d", lambda f: f(_X, _Y[None]), ValueError, r"^y must be a 1-D array"),
    ("y-ragged", lambda f: f(_X, [[0], [1, 2], 3]), TypeError, r"^y must be an array of non-negative integer labels"),
    ("x-1d", lambda f: f(np.zeros(4), _Y), ValueError, r"^x must be a 2-D array of shape \(N, C\)"),
    ("x-3d", lambda f: f(np.zeros((3, 4, 1)), _Y), ValueError, r"^x must be a 2-D array of shape \(N, C\)"),
    ("x-no-classes", lambda f: f(np.zeros((3, 0)), np.zeros(3, int)), ValueError, r"^x must have no zero-size dimension"),
    ("x-no-samples", lambda f: f(np.zeros((0, 4)), np.zeros(0, int)), ValueError, r"^x must have no zero-size dimension"),
    ("x-complex", lambda f: f(_X + 0j, _Y), TypeError, r"^x must be a real numeric array"),
    ("x-string", lambda f: f(_X.astype(str), _Y), TypeError, r"^x must be a real numeric array"),
    ("x-bool", lambda f: f(_X > 0, _Y), TypeError, r"^x must be a real numeric array"),
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("call, exc, match", [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_loss_bad_input(kind, call, exc, match):
    with pytest.raises(exc, match=match) as info:
        call(fast(kind))
    for other in (twin(kind), getattr(layers, f"{kind}_loss")):  # the same error everywhere
        with pytest.raises(exc) as other_info:
            call(other)
        assert str(other_info.value) == str(info.value)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n_threads, exc", [(0, ValueError), (-1, ValueError), (1.5, TypeError), ("2", TypeError)])
def test_loss_bad_n_threads(kind, n_threads, exc):
    with pytest.raises(exc, match="n_threads"):
        fast(kind)(_X, _Y, n_threads=n_threads)


_S = np.zeros((2, 3, 5))
_IDS = np.array([[0, 1, 4], [2, 3, 0]])
_M = np.ones((2, 3), bool)

TEMPORAL_BAD = [
    ("y-too-large", lambda: temporal.temporal_softmax_loss(_S, _IDS + 1, _M), ValueError, r"^y holds word id 5, outside the vocabulary \[0, 5\)"),
    ("y-negative", lambda: temporal.temporal_softmax_loss(_S, _IDS - 1, _M), ValueError, r"^y holds word id -1"),
    ("y-float", lambda: temporal.temporal_softmax_loss(_S, _IDS * 1.0, _M), TypeError, r"^y must be an integer array"),
    ("y-shape", lambda: temporal.temporal_softmax_loss(_S, _IDS.T, _M), ValueError, r"^y must have shape \(2, 3\)"),
    ("y-1d", lambda: temporal.temporal_softmax_loss(_S, _IDS[0], _M), ValueError, r"^y must be a 2-D array"),
    ("mask-shape", lambda: temporal.temporal_softmax_loss(_S, _IDS, _M.T), ValueError, r"^mask must have shape \(2, 3\)"),
    ("mask-1d", lambda: temporal.temporal_softmax_loss(_S, _IDS, _M[0]), ValueError, r"^mask must be a 2-D array"),
    ("mask-float-weights", lambda: temporal.temporal_softmax_loss(_S, _IDS, _M * 0.5), ValueError, r"^mask must hold only booleans or the numbers 0 and 1"),
    ("mask-string", lambda: temporal.temporal_softmax_loss(_S, _IDS, _M.astype(str)), TypeError, r"^mask must be a boolean array"),
    ("mask-two", lambda: temporal.temporal_softmax_loss(_S, _IDS, _M * 2), ValueError, r"^mask must hold only booleans or the numbers 0 and 1 \(a weighted loss is not supported\); got 2"),
    ("x-2d", lambda: temporal.temporal_softmax_loss(_S[0], _IDS, _M), ValueError, r"^x must be a 3-D array"),
    ("x-no-words", lambda: temporal.temporal_softmax_loss(_S[:, :, :0], _IDS, _M), ValueError, r"^x must have N >= 1 sequences .* and V >= 1 words"),
    ("x-complex", lambda: temporal.temporal_softmax_loss(_S + 0j, _IDS, _M), TypeError, r"^x must be a real numeric array"),
    ("n_threads", lambda: temporal.temporal_softmax_loss(_S, _IDS, _M, n_threads=0), ValueError, r"^n_threads"),
]


@pytest.mark.parametrize("call, exc, match", [c[1:] for c in TEMPORAL_BAD], ids=[c[0] for c in TEMPORAL_BAD])
def test_temporal_softmax_loss_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()

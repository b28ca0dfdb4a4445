"""Layer classes over the kernels."""

import numpy as np
import pytest

from cs231n_fast import ops
from cs231n_fast.nn import Conv2D, MaxPool2D


def test_conv2d_forward_backward_match_ops(rng):
    layer = Conv2D(3, 4, (3, 2), stride=(2, 1), pad=1, dtype=np.float64, seed=0)
    assert layer.params["w"].shape == (4, 3, 3, 2) and layer.params["b"].shape == (4,)
    x = rng.standard_normal((2, 3, 7, 6))
    out = layer(x)
    ref, cache = ops.conv_forward(x, layer.params["w"], layer.params["b"], (2, 1), 1)
    np.testing.assert_array_equal(out, ref)
    dout = rng.standard_normal(out.shape)
    dx = layer.backward(dout)
    rdx, rdw, rdb = ops.conv_backward(dout, cache)
    np.testing.assert_array_equal(dx, rdx)
    np.testing.assert_array_equal(layer.grads["w"], rdw)
    np.testing.assert_array_equal(layer.grads["b"], rdb)


def test_conv2d_backends_agree(rng):
    fast = Conv2D(2, 3, 3, pad=1, dtype=np.float64, seed=1)
    ref = Conv2D(2, 3, 3, pad=1, dtype=np.float64, seed=1, backend="reference")
    np.testing.assert_array_equal(fast.params["w"], ref.params["w"])
    x = rng.standard_normal((2, 2, 5, 5))
    np.testing.assert_allclose(fast.forward(x), ref.forward(x), rtol=1e-12, atol=1e-12)
    dout = rng.standard_normal((2, 3, 5, 5))
    np.testing.assert_allclose(fast.backward(dout), ref.backward(dout), rtol=1e-12, atol=1e-12)
    # dw sums 50 products of either sign: compared to rounding of the largest entry (the
    # compiled kernel's BLAS blocks and the twin's NumPy products round differently).
    np.testing.assert_allclose(fast.grads["w"], ref.grads["w"], rtol=1e-12,
                               atol=1e-12 * np.abs(ref.grads["w"]).max())


def test_conv2d_init_and_repr():
    layer = Conv2D(8, 16, 3, seed=0)
    assert layer.params["w"].dtype == np.float32
    std = layer.params["w"].std()
    assert 0.5 * np.sqrt(2 / 72) < std < 1.5 * np.sqrt(2 / 72)  # He initialisation
    assert not layer.params["b"].any()
    assert repr(layer) == "Conv2D(8, 16, kernel_size=(3, 3), stride=(1, 1), pad=(0, 0), dtype=float32, backend='fast')"
    assert Conv2D(1, 1, 1, weight_scale=0.0).params["w"].item() == 0.0


def test_maxpool2d_forward_backward(rng):
    layer = MaxPool2D(3, stride=2)
    assert repr(layer) == "MaxPool2D(pool_size=(3, 3), stride=(2, 2), backend='fast')"
    x = rng.standard_normal((2, 3, 9, 9)).astype(np.float32)
    out = layer(x)
    ref, cache = ops.maxpool_forward(x, 3, 3, 2)
    np.testing.assert_array_equal(out, ref)
    dout = rng.standard_normal(out.shape).astype(np.float32)
    np.testing.assert_array_equal(layer.backward(dout), ops.maxpool_backward(dout, cache))
    assert layer.params == {} and layer.grads == {}
    ref_layer = MaxPool2D((3, 3), 2, backend="reference")
    np.testing.assert_array_equal(ref_layer(x), out)
    assert MaxPool2D(2).stride == (2, 2)


@pytest.mark.parametrize(
    "make, exc, match",
    [
        (lambda: Conv2D(0, 4, 3), ValueError, "in_channels"),
        (lambda: Conv2D(3, 4, (3, 0)), ValueError, "kernel_size"),
        (lambda: Conv2D(3, 4, 3, stride=0), ValueError, "stride"),
        (lambda: Conv2D(3, 4, 3, pad=-1), ValueError, "pad"),
        (lambda: Conv2D(3, 4, 3, dtype=np.int32), TypeError, "dtype"),
        (lambda: Conv2D(3, 4, 3, backend="gpu"), ValueError, "backend"),
        (lambda: Conv2D(3, 4, 3, n_threads=0), ValueError, "n_threads"),
        (lambda: MaxPool2D(0), ValueError, "pool_size"),
        (lambda: MaxPool2D(2, stride=(1, 0)), ValueError, "stride"),
        (lambda: MaxPool2D(2, backend="torch"), ValueError, "backend"),
    ],
)
def test_layers_bad_hyperparameters(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


@pytest.mark.parametrize("layer", [Conv2D(1, 1, 1), MaxPool2D(2)], ids=["conv", "pool"])
def test_layers_backward_before_forward_raises(layer):
    with pytest.raises(RuntimeError, match="backward called before forward"):
        layer.backward(np.zeros((1, 1, 1, 1)))


def test_conv2d_forward_rejects_wrong_channels():
    with pytest.raises(ValueError, match="w must have shape"):
        Conv2D(3, 4, 3)(np.zeros((1, 2, 5, 5), np.float32))

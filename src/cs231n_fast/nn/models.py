"""Builders of the CNN lecture's architectures as :class:`~cs231n_fast.nn.Sequential` models:
:func:`lenet5`, :func:`small_vgg`, :func:`small_resnet` and :func:`inception_net`.

Each returns a ``Sequential`` with the softmax loss that the course's ``Solver`` trains as it
trains ``ThreeLayerConvNet`` (``model.params``, ``model.loss(X, y)``). They are sized for
CIFAR-10's 3×32×32 images and work as well on the embedded 1×8×8 digits
(:func:`cs231n_fast.data.get_digits_data`, what ``cs231n-fast train`` uses by default): the
layer tables in each docstring give the shapes for both.

Common keyword arguments:

``reg``
    L2 regularisation of the weights (``Sequential(reg=...)``).
``dtype``
    float32 (default) or float64, of every parameter (float64 for gradient checks).
``seed``
    None, an int or a numpy Generator: every layer's initial weights are drawn, in order, from
    one generator (He initialisation), so the same seed builds the same model.
``backend``, ``n_threads``
    Of the convolutions and poolings (``"fast"``: the compiled kernels; ``"reference"``: the
    NumPy twin).

Examples
--------
>>> import numpy as np
>>> from cs231n_fast.nn import models
>>> model = models.small_resnet((1, 8, 8), widths=(8, 16), seed=0)
>>> model.loss(np.zeros((4, 1, 8, 8), np.float32)).shape
(4, 10)
>>> solver = Solver(model, get_digits_data(), update_rule="adam")  # doctest: +SKIP
"""

import numbers

import numpy as np

from .._model import float_dtype
from .._validation import make_rng, positive_int, real_number
from .course_layers import Affine, BatchNorm, Dropout, Flatten, ReLU, SpatialBatchNorm
from .graph import GlobalAvgPool2D, Parallel, Residual, ZeroPad2D
from .layers import Conv2D, MaxPool2D
from .sequential import Sequential

__all__ = ["lenet5", "small_vgg", "small_resnet", "inception_net"]


def _input_shape(input_shape):
    """``input_shape`` as a tuple (C, H, W) of positive ints."""
    if isinstance(input_shape, (str, bytes)) or not hasattr(input_shape, "__len__"):
        raise TypeError(
            f"input_shape must be a tuple (C, H, W); got {type(input_shape).__name__}"
        )
    if len(input_shape) != 3:
        raise ValueError(f"input_shape must be a tuple (C, H, W); got {tuple(input_shape)!r}")
    return tuple(positive_int(f"input_shape[{i}]", d) for i, d in enumerate(input_shape))


def _int_tuple(name, values, minimum=1):
    if isinstance(values, numbers.Integral) or not hasattr(values, "__len__") or not len(values):
        raise TypeError(f"{name} must be a non-empty tuple of ints; got {values!r}")
    return tuple(positive_int(f"{name}[{i}]", v, minimum) for i, v in enumerate(values))


class _Builder:
    """Makes the layers of one model: one dtype, one generator, one backend; tracks the
    spatial size to check that the input is large enough."""

    def __init__(self, name, input_shape, dtype, seed, backend, n_threads):
        self.name = name
        self.c, self.h, self.w = _input_shape(input_shape)
        self.input_shape = (self.c, self.h, self.w)
        self.dtype = float_dtype(dtype)
        self.rng = make_rng(seed)
        self.backend = backend
        self.n_threads = n_threads

    def _size(self, size, k, stride, pad, what):
        out = (size + 2 * pad - k) // stride + 1
        if size + 2 * pad < k:
            raise ValueError(
                f"input_shape {self.input_shape} is too small for {self.name}: a {what} of "
                f"size {k} meets a {size}-pixel-wide input"
            )
        return out

    def shape(self, c=None, h=None, w=None):
        return (self.c if c is None else c, self.h if h is None else h, self.w if w is None else w)

    def conv(self, cin, cout, k, stride=1, pad=0, track=True):
        layer = Conv2D(cin, cout, k, stride=stride, pad=pad, dtype=self.dtype, seed=self.rng,
                       backend=self.backend, n_threads=self.n_threads)  # fmt: skip
        if track:
            self.h = self._size(self.h, k, stride, pad, "convolution")
            self.w = self._size(self.w, k, stride, pad, "convolution")
            self.c = cout
        return layer

    def pool(self, k=2, stride=None, track=True):
        stride = k if stride is None else stride
        if track:
            self.h = self._size(self.h, k, stride, 0, "pooling window")
            self.w = self._size(self.w, k, stride, 0, "pooling window")
        return MaxPool2D(k, stride, backend=self.backend, n_threads=self.n_threads)

    def bn(self, c):
        return SpatialBatchNorm(c, dtype=self.dtype)

    def affine(self, d, m):
        return Affine(d, m, dtype=self.dtype, seed=self.rng)


def _model(layers, reg):
    return Sequential(*layers, reg=real_number("reg", reg, 0.0))


def lenet5(input_shape=(1, 32, 32), num_classes=10, *, pad=None, reg=0.0, dtype=np.float32,
           seed=None, backend="fast", n_threads=None):
    """LeNet-5 (LeCun et al., 1998): two convolution-pooling stages and three fully connected
    layers.

    ======================================  ===============  ============
    layer                                   out, 1×32×32     out, 1×8×8
    ======================================  ===============  ============
    Conv2D(C, 6, 5, pad) + ReLU             6×28×28          6×8×8
    MaxPool2D(2)                            6×14×14          6×4×4
    Conv2D(6, 16, 5, pad) + ReLU            16×10×10         16×4×4
    MaxPool2D(2)                            16×5×5           16×2×2
    Flatten, Affine(·, 120) + ReLU          120              120
    Affine(120, 84) + ReLU                  84               84
    Affine(84, num_classes)                 num_classes      num_classes
    ======================================  ===============  ============

    Modernised as usual: ReLU and max pooling in place of the scaled tanh and the trainable
    average subsampling, every C3 map connected to every S2 map, and the softmax loss in place
    of the RBF output layer. 61,706 parameters for 1×32×32 inputs and 10 classes.

    Parameters
    ----------
    input_shape : tuple (C, H, W), default (1, 32, 32)
    num_classes : int, default 10
    pad : int, optional
        Zero padding of both convolutions. Default: 0 (LeNet-5's valid convolutions) for
        inputs of at least 28×28, else 2 (the convolutions keep the size, as for the 8×8
        digits).
    reg, dtype, seed, backend, n_threads
        See the module docstring.

    Returns
    -------
    Sequential

    Raises
    ------
    ValueError, TypeError
        For a malformed ``input_shape``, ``num_classes``, ``pad``, ``reg`` or ``dtype``; an
        input too small for the layers.
    """
    b = _Builder("lenet5", input_shape, dtype, seed, backend, n_threads)
    num_classes = positive_int("num_classes", num_classes)
    if pad is None:
        pad = 0 if min(b.h, b.w) >= 28 else 2
    pad = positive_int("pad", pad, 0)
    layers = [b.conv(b.c, 6, 5, pad=pad), ReLU(), b.pool(2),
              b.conv(6, 16, 5, pad=pad), ReLU(), b.pool(2), Flatten()]  # fmt: skip
    layers += [b.affine(16 * b.h * b.w, 120), ReLU(), b.affine(120, 84), ReLU(),
               b.affine(84, num_classes)]  # fmt: skip
    return _model(layers, reg)


def small_vgg(input_shape=(3, 32, 32), num_classes=10, *, widths=(32, 64, 128), convs_per_stage=2,
              hidden_dim=256, batchnorm=True, dropout=None, reg=0.0, dtype=np.float32, seed=None,
              backend="fast", n_threads=None):
    """A small VGG (Simonyan and Zisserman, 2015): stages of 3×3 convolutions, each stage ended
    by a 2×2 max pooling that halves the size, then fully connected layers.

    With the defaults (3 stages of 2 convolutions, widths 32, 64, 128):

    =================================================  ============  ============
    layer                                              out, 3×32×32  out, 1×8×8
    =================================================  ============  ============
    2 × [Conv2D(·, 32, 3, pad=1), SBN, ReLU]           32×32×32      32×8×8
    MaxPool2D(2)                                       32×16×16      32×4×4
    2 × [Conv2D(·, 64, 3, pad=1), SBN, ReLU]           64×16×16      64×4×4
    MaxPool2D(2)                                       64×8×8        64×2×2
    2 × [Conv2D(·, 128, 3, pad=1), SBN, ReLU]          128×8×8       128×2×2
    MaxPool2D(2)                                       128×4×4       128×1×1
    Flatten, Affine(·, 256), BatchNorm, ReLU           256           256
    Dropout (if ``dropout``)                           256           256
    Affine(256, num_classes)                           num_classes   num_classes
    =================================================  ============  ============

    SBN is :class:`~cs231n_fast.nn.SpatialBatchNorm`. A stage whose input is already 1 pixel
    high or wide has no pooling.

    Parameters
    ----------
    input_shape : tuple (C, H, W), default (3, 32, 32)
    num_classes : int, default 10
    widths : tuple of int, default (32, 64, 128)
        The filters of each stage (VGG-16: 64, 128, 256, 512, 512).
    convs_per_stage : int, default 2
    hidden_dim : int, default 256
    batchnorm : bool, default True
        Batch normalisation after every convolution and the hidden affine layer (the VGG-BN
        variant, which trains from scratch without VGG's staged initialisation).
    dropout : float, optional
        If given, ``Dropout(keep_prob=dropout)`` before the last layer.
    reg, dtype, seed, backend, n_threads
        See the module docstring.

    Returns
    -------
    Sequential
    """
    b = _Builder("small_vgg", input_shape, dtype, seed, backend, n_threads)
    num_classes = positive_int("num_classes", num_classes)
    widths = _int_tuple("widths", widths)
    convs = positive_int("convs_per_stage", convs_per_stage)
    hidden = positive_int("hidden_dim", hidden_dim)
    layers = []
    for width in widths:
        for _ in range(convs):
            layers.append(b.conv(b.c, width, 3, pad=1))
            layers += [b.bn(width)] if batchnorm else []
            layers.append(ReLU())
        if min(b.h, b.w) >= 2:
            layers.append(b.pool(2))
    layers += [Flatten(), b.affine(b.c * b.h * b.w, hidden)]
    layers += [BatchNorm(hidden, dtype=b.dtype)] if batchnorm else []
    layers.append(ReLU())
    layers += [] if dropout is None else [Dropout(dropout)]
    layers.append(b.affine(hidden, num_classes))
    return _model(layers, reg)


def _basic_block(b, cin, cout, stride):
    """ResNet's basic block: conv3×3(stride)-BN-ReLU-conv3×3-BN plus the shortcut, then ReLU;
    a 1×1 convolution with BN projects the shortcut when the shape changes (option B)."""
    block = Sequential(b.conv(cin, cout, 3, stride=stride, pad=1), b.bn(cout), ReLU(),
                       b.conv(cout, cout, 3, pad=1), b.bn(cout))  # fmt: skip
    shortcut = None
    if stride != 1 or cin != cout:  # same output size as the block's: (h - 1) // stride + 1
        shortcut = Sequential(b.conv(cin, cout, 1, stride=stride, track=False), b.bn(cout))
    return Residual(block, shortcut, post=ReLU())


def small_resnet(input_shape=(3, 32, 32), num_classes=10, *, widths=(16, 32, 64),
                 blocks_per_stage=1, reg=0.0, dtype=np.float32, seed=None, backend="fast",
                 n_threads=None):
    """A small ResNet (He et al., 2016, the CIFAR-10 networks of section 4.2): a 3×3
    convolution, stages of basic residual blocks, global average pooling, one affine layer.

    Every basic block is ``Residual(Sequential(conv3×3, BN, ReLU, conv3×3, BN), shortcut,
    post=ReLU())``; the first block of every stage but the first halves the size with stride 2
    and doubles the filters, and its shortcut is a 1×1 convolution with stride 2 and batch
    normalisation (the paper's option B); the other shortcuts are the identity. With the
    defaults (ResNet-8: widths 16, 32, 64, one block per stage; ``blocks_per_stage=3`` is the
    paper's ResNet-20):

    ====================================================  ============  ============
    layer                                                 out, 3×32×32  out, 1×8×8
    ====================================================  ============  ============
    Conv2D(C, 16, 3, pad=1), SpatialBatchNorm, ReLU       16×32×32      16×8×8
    Residual block 16 (identity shortcut)                 16×32×32      16×8×8
    Residual block 32, stride 2 (projection)              32×16×16      32×4×4
    Residual block 64, stride 2 (projection)              64×8×8        64×2×2
    GlobalAvgPool2D                                       64            64
    Affine(64, num_classes)                               num_classes   num_classes
    ====================================================  ============  ============

    Parameters
    ----------
    input_shape : tuple (C, H, W), default (3, 32, 32)
    num_classes : int, default 10
    widths : tuple of int, default (16, 32, 64)
        The filters of each stage.
    blocks_per_stage : int, default 1
    reg, dtype, seed, backend, n_threads
        See the module docstring.

    Returns
    -------
    Sequential
    """
    b = _Builder("small_resnet", input_shape, dtype, seed, backend, n_threads)
    num_classes = positive_int("num_classes", num_classes)
    widths = _int_tuple("widths", widths)
    blocks = positive_int("blocks_per_stage", blocks_per_stage)
    layers = [b.conv(b.c, widths[0], 3, pad=1), b.bn(widths[0]), ReLU()]
    for stage, width in enumerate(widths):
        for i in range(blocks):
            stride = 2 if stage > 0 and i == 0 else 1
            layers.append(_basic_block(b, b.c, width, stride))
    layers += [GlobalAvgPool2D(), b.affine(b.c, num_classes)]
    return _model(layers, reg)


def _conv_bn_relu(b, cin, cout, k, batchnorm):
    layers = [b.conv(cin, cout, k, pad=k // 2)]
    layers += [b.bn(cout)] if batchnorm else []
    return layers + [ReLU()]


def _inception(b, cin, spec, batchnorm):
    """GoogLeNet's Inception module ``(c1, (c3r, c3), (c5r, c5), cp)``: 1×1; 1×1 then 3×3;
    1×1 then 5×5; 3×3 max pooling (stride 1, size kept) then 1×1; concatenated."""
    c1, (c3r, c3), (c5r, c5), cp = spec
    h, w = b.h, b.w
    def cbr(cin, cout, k):
        return _conv_bn_relu(b, cin, cout, k, batchnorm)

    branches = [
        Sequential(*cbr(cin, c1, 1)),
        Sequential(*cbr(cin, c3r, 1), *cbr(c3r, c3, 3)),
        Sequential(*cbr(cin, c5r, 1), *cbr(c5r, c5, 5)),
        # the module's input is non-negative (after a ReLU): zero padding = -inf padding
        Sequential(ZeroPad2D(1), b.pool(3, 1, track=False), *cbr(cin, cp, 1)),
    ]
    assert (b.h, b.w) == (h, w)  # every branch keeps the size
    b.c = c1 + c3 + c5 + cp
    return Parallel(*branches)


def _inception_spec(name, spec):
    try:
        c1, (c3r, c3), (c5r, c5), cp = spec
    except (TypeError, ValueError):
        raise TypeError(
            f"{name} must be a tuple (c1, (c3r, c3), (c5r, c5), cp) of ints, as GoogLeNet's "
            f"table; got {spec!r}"
        ) from None
    c1, c3r, c3, c5r, c5, cp = (
        positive_int(f"{name} entry", v) for v in (c1, c3r, c3, c5r, c5, cp)
    )
    return c1, (c3r, c3), (c5r, c5), cp


def inception_net(input_shape=(3, 32, 32), num_classes=10, *, stem_width=32,
                  modules=((16, (16, 32), (8, 16), 16), (32, (32, 48), (8, 24), 24)),
                  batchnorm=True, reg=0.0, dtype=np.float32, seed=None, backend="fast",
                  n_threads=None):
    """An Inception-style network (GoogLeNet, Szegedy et al., 2015; batch normalisation as in
    Inception-v2): a 3×3 convolution stem, Inception modules with a 2×2 max pooling between
    them, global average pooling, one affine layer.

    Each module is a :class:`~cs231n_fast.nn.Parallel` of four branches concatenated along the
    channels, specified as in GoogLeNet's table by ``(c1, (c3r, c3), (c5r, c5), cp)``: a 1×1
    convolution to c1 channels; 1×1 to c3r then 3×3 to c3; 1×1 to c5r then 5×5 to c5; 3×3 max
    pooling with stride 1 then 1×1 to cp. Every convolution is followed by batch normalisation
    (if ``batchnorm``) and a ReLU, and pads to keep the size. With the defaults:

    ========================================================  ============  ============
    layer                                                     out, 3×32×32  out, 1×8×8
    ========================================================  ============  ============
    Conv2D(C, 32, 3, pad=1), SpatialBatchNorm, ReLU           32×32×32      32×8×8
    Inception (16, (16, 32), (8, 16), 16)                     80×32×32      80×8×8
    MaxPool2D(2)                                              80×16×16      80×4×4
    Inception (32, (32, 48), (8, 24), 24)                     128×16×16     128×4×4
    GlobalAvgPool2D                                           128           128
    Affine(128, num_classes)                                  num_classes   num_classes
    ========================================================  ============  ============

    Parameters
    ----------
    input_shape : tuple (C, H, W), default (3, 32, 32)
    num_classes : int, default 10
    stem_width : int, default 32
    modules : sequence of (c1, (c3r, c3), (c5r, c5), cp)
        One Inception module each, a max pooling between consecutive ones (skipped once the
        input is 1 pixel high or wide).
    batchnorm : bool, default True
    reg, dtype, seed, backend, n_threads
        See the module docstring.

    Returns
    -------
    Sequential
    """
    b = _Builder("inception_net", input_shape, dtype, seed, backend, n_threads)
    num_classes = positive_int("num_classes", num_classes)
    stem = positive_int("stem_width", stem_width)
    if isinstance(modules, (str, bytes)) or not hasattr(modules, "__len__") or not len(modules):
        raise TypeError(f"modules must be a non-empty sequence of module specs; got {modules!r}")
    specs = [_inception_spec(f"modules[{i}]", s) for i, s in enumerate(modules)]
    layers = _conv_bn_relu(b, b.c, stem, 3, batchnorm)
    for i, spec in enumerate(specs):
        if i and min(b.h, b.w) >= 2:
            layers.append(b.pool(2))
        layers.append(_inception(b, b.c, spec, batchnorm))
    layers += [GlobalAvgPool2D(), b.affine(b.c, num_classes)]
    return _model(layers, reg)

"""Graph pieces beyond a chain: :class:`Residual` (ResNet's ``F(x) + x``) and :class:`Parallel`
(GoogLeNet's Inception branches concatenated along the channels), plus the two small layers the
model builders of :mod:`cs231n_fast.nn.models` need besides them, :class:`GlobalAvgPool2D` and
:class:`ZeroPad2D`.

The containers follow the layer protocol of :mod:`cs231n_fast.nn`: ``forward``/``backward``,
``params``/``grads`` dicts, ``train()``/``eval()``, and they nest inside
:class:`~cs231n_fast.nn.Sequential` and inside each other. Their children are any layers with
``forward``, ``backward``, ``params`` and ``grads`` (a chain of layers is a ``Sequential``).

Parameter names are the child's name, a dot, and the child's own parameter name:
``"block.0.w"`` (the first layer of a residual block), ``"shortcut.w"`` (its projection),
``"2.1.W"`` (the second layer of a parallel container's third branch). They are fixed when the
container is built, never depend on the order of calls, and are unique because child names
are. Inside a ``Sequential`` they get its index in front, e.g. ``"3.block.0.w"``.

Code that walks a model finds the children the same way in every container: ``layers`` (a
tuple, as ``Sequential.layers``) and :meth:`~_Container.named_layers` (``(name, layer)`` pairs
whose names are the prefixes of the parameter names).

Freezing and saving: a child with ``trainable = False`` is left out of the container's
``params`` and ``grads`` (so the Solver does not update it) and runs in evaluation mode, and a
container with ``trainable = False`` is frozen whole by the enclosing ``Sequential``.
:meth:`~_Container.state_dict` and :meth:`~_Container.load_state_dict` cover every parameter,
frozen or not, and the children's ``buffers`` (batch normalisation's running statistics),
under the same prefixed names.
"""

from collections.abc import Mapping

import numpy as np

from .._validation import as_array, check_ndim, check_shape, pair, result_dtype
from ..regularization import layer_max_norm_axes
from .layers import _Cached, _TrainEval
from .sequential import (
    _layer_state,
    _trainable,
    _WriteThroughParams,
    check_distinct_layers,
    load_children_state,
)

__all__ = ["Residual", "Parallel", "GlobalAvgPool2D", "ZeroPad2D"]

#: What a child must have, as :class:`~cs231n_fast.nn.Sequential` requires of its layers.
_LAYER_ATTRIBUTES = ("forward", "backward", "params", "grads")


def _check_layer(name, layer):
    """TypeError naming ``name`` unless ``layer`` has the layer protocol."""
    missing = [a for a in _LAYER_ATTRIBUTES if not hasattr(layer, a)]
    if missing:
        raise TypeError(
            f"{name} must be a layer with {', '.join(_LAYER_ATTRIBUTES)} (e.g. Conv2D, Affine, "
            f"or a Sequential of layers); got {type(layer).__name__}, which has no "
            f"{', '.join(missing)}"
        )
    return layer


def _check_state_shape(key, value, shape):
    """ValueError unless ``state[key]`` (the array ``value``) has the child's ``shape``."""
    check_shape(f"state[{key!r}]", value, shape, f"the shape of {key!r}")


def _indent(text):
    return text.replace("\n", "\n  ")


class _ChildParameters(_WriteThroughParams):
    """The parameters of a container, ``"<child name>.<name>"`` -> array.

    A snapshot (``container.params`` makes a new one) holding the children's own arrays; item
    assignment (and ``update``) writes the new array into the child (through the child's own
    ``params``, so that nested containers and ``Sequential`` write through in turn), checked
    to have the parameter's shape and cast to its dtype. New keys cannot be added.
    """

    def __init__(self, named_layers):
        self._children = {prefix: layer for prefix, layer in named_layers if _trainable(layer)}
        super().__init__(
            (f"{prefix}.{name}", value)
            for prefix, layer in self._children.items()
            for name, value in layer.params.items()
        )

    def _write(self, key, value):
        prefix, name = key.split(".", 1)
        self._children[prefix].params[name] = value
        dict.__setitem__(self, key, value)  # the snapshot too, unchecked


class _Container(_Cached):
    """Shared machinery of :class:`Residual` and :class:`Parallel`: children, their parameters
    and gradients under prefixed names, the mode, the state, and the cache check."""

    #: False freezes the whole container in a ``Sequential`` (as any layer).
    trainable = True

    def __init__(self, named):
        # one cache per layer object: a second use, here or nested, would overwrite the first's
        check_distinct_layers(named)
        self._named = tuple(named)
        self.training = True
        self._cache = None

    def named_layers(self):
        """The children as ``(name, layer)`` pairs; ``name`` prefixes their parameter names."""
        return self._named

    @property
    def layers(self):
        """The children, in the order of :meth:`named_layers`."""
        return tuple(layer for _, layer in self._named)

    @property
    def params(self):
        """``"<child>.<name>"`` -> the child's array; assigning an item writes into the child."""
        return _ChildParameters(self._named)

    @params.setter
    def params(self, new):
        if not isinstance(new, Mapping):
            raise TypeError(
                f"params must be a dict of parameter name -> array; got {type(new).__name__}"
            )
        current = self.params
        if set(new) != set(current):
            raise ValueError(
                f"params must have exactly the keys {list(current)}; got {sorted(map(str, new))}"
            )
        current.update(new)

    @property
    def grads(self):
        """The children's gradients of the last :meth:`backward`, keyed like ``params``."""
        return {
            f"{prefix}.{name}": grad
            for prefix, layer in self._named
            if _trainable(layer)
            for name, grad in layer.grads.items()
        }

    def max_norm_axes(self):
        """The max-norm axes the trainable children declare, keyed like ``params``."""
        return {
            f"{prefix}.{name}": axes
            for prefix, layer in self._named
            if _trainable(layer)
            for name, axes in layer_max_norm_axes(layer).items()
        }

    def state_dict(self):
        """Every parameter (of frozen children too) and buffer, ``"<child>.<name>"`` -> the
        live array."""
        return {
            f"{prefix}.{name}": value
            for prefix, layer in self._named
            for name, value in _layer_state(layer).items()
        }

    def load_state_dict(self, state):
        """Copy the arrays of ``state`` (keyed as :meth:`state_dict`) into the children, cast to
        the dtype of the arrays they replace; all or nothing. Returns the container.

        Raises
        ------
        ValueError
            Keys missing or unknown (another architecture), listed; a value of another shape.
        TypeError
            If ``state`` is not a mapping.
        """
        return load_children_state(self, self._named, state, "container", _check_state_shape)

    @property
    def runs_kernels(self):
        """True when a child runs the compiled kernels (a ``Sequential`` holding this container
        then keeps NumPy's BLAS on one thread beside them)."""
        def runs(layer):  # a layer or container, or a Sequential (which has _uses_kernels)
            return getattr(layer, "runs_kernels", False) or getattr(
                layer, "_uses_kernels", lambda: False
            )()

        return any(runs(layer) for layer in self.layers)

    def _set_mode(self, training):
        self.training = training
        for layer in self.layers:
            # a frozen child always runs in evaluation mode
            switch = getattr(layer, "train" if training and _trainable(layer) else "eval", None)
            if callable(switch):
                switch()
        return self

    def train(self):
        """Switch the container and its children to training mode; returns the container."""
        return self._set_mode(True)

    def eval(self):
        """Switch the container and its children to evaluation mode; returns the container."""
        return self._set_mode(False)

    def _checked_dout(self, dout, out_shape):
        dout = as_array("dout", dout)
        check_shape("dout", dout, out_shape, "the shape of the forward output")
        return dout


class Residual(_Container):
    """A residual connection: ``out = block(x) + shortcut(x)``, then ``post`` if given.

    ResNet's building block (He et al., 2016) learns the residual ``F(x) = block(x)`` of an
    identity mapping. When the block keeps the shape of its input, the shortcut is the identity
    (``shortcut=None``); when it changes it (a stride-2 convolution, more channels), the
    shortcut is a projection to the block's output shape, such as a 1×1 convolution with the
    same stride (ResNet's option B) or, for (N, D) inputs, an ``Affine`` layer.

    Parameters
    ----------
    block : layer
        ``F``; usually a ``Sequential`` such as conv-BN-ReLU-conv-BN.
    shortcut : layer, optional
        The projection; default the identity (``x`` itself is added).
    post : layer, optional
        Applied to the sum, e.g. ``ReLU()`` for ResNet's post-addition ReLU
        (``relu(F(x) + x)``). Default none: the sum is the output (pre-activation ResNets, or
        append the activation after the ``Residual`` in a ``Sequential``, which computes the
        same).

    Attributes
    ----------
    block, shortcut, post : layer or None
    params : dict
        ``"block.<name>"``, ``"shortcut.<name>"``, ``"post.<name>"`` -> the children's arrays;
        assigning an item writes the array into the child.
    grads : dict
        Keyed like ``params``, set by :meth:`backward`.
    training : bool
        The mode, propagated to the children.

    Raises
    ------
    TypeError
        If ``block``, ``shortcut`` or ``post`` is not a layer (no ``forward``, ``backward``,
        ``params`` or ``grads``).
    ValueError
        If one layer object is given twice; at :meth:`forward`, if the block's output and the
        shortcut's (the input itself for the identity) differ in shape.

    Notes
    -----
    ``backward`` sends the output gradient through both paths and adds their input gradients:
    ``dx = dblock(dout) + dshortcut(dout)``, with ``dshortcut(dout) = dout`` for the identity,
    which is why gradients reach early layers of deep residual networks undiminished.

    Examples
    --------
    >>> import numpy as np
    >>> from cs231n_fast.nn import Conv2D, ReLU, Residual, Sequential, SpatialBatchNorm
    >>> block = Sequential(Conv2D(8, 8, 3, pad=1, seed=0), SpatialBatchNorm(8), ReLU(),
    ...                    Conv2D(8, 8, 3, pad=1, seed=1), SpatialBatchNorm(8))
    >>> res = Residual(block, post=ReLU())
    >>> res.forward(np.ones((2, 8, 6, 6), np.float32)).shape
    (2, 8, 6, 6)
    >>> down = Residual(Sequential(Conv2D(8, 16, 3, stride=2, pad=1, seed=2), SpatialBatchNorm(16)),
    ...                 shortcut=Conv2D(8, 16, 1, stride=2, seed=3), post=ReLU())
    >>> down.forward(np.ones((2, 8, 6, 6), np.float32)).shape
    (2, 16, 3, 3)
    >>> sorted(down.params)[:3]
    ['block.0.b', 'block.0.w', 'block.1.beta']
    """

    def __init__(self, block, shortcut=None, *, post=None):
        named = [("block", _check_layer("block", block))]
        if shortcut is not None:
            named.append(("shortcut", _check_layer("shortcut", shortcut)))
        if post is not None:
            named.append(("post", _check_layer("post", post)))
        super().__init__(named)
        self.block, self.shortcut, self.post = block, shortcut, post

    def forward(self, x):
        """x -> ``post(block(x) + shortcut(x))`` in the current mode."""
        x = as_array("x", x)
        out = self.block.forward(x)
        skip = x if self.shortcut is None else self.shortcut.forward(x)
        out, skip = np.asarray(out), np.asarray(skip)
        if out.shape != skip.shape:
            if self.shortcut is None:
                raise ValueError(
                    f"Residual: the block's output has shape {out.shape} but the identity "
                    f"shortcut's (the input x) has shape {skip.shape}; the two are added, so "
                    "give a projection shortcut to the block's output shape, e.g. "
                    "Conv2D(in_channels, out_channels, 1, stride=s) for images or "
                    "Affine(in_features, out_features) for (N, D) inputs"
                )
            raise ValueError(
                f"Residual: the block's output has shape {out.shape} but the shortcut's has "
                f"shape {skip.shape}; the two are added, so they must have the same shape"
            )
        total = out + skip
        self._cache = (total.shape,)
        return total if self.post is None else self.post.forward(total)

    def backward(self, dout):
        """dout (of the forward output's shape) -> dx; fills the children's ``grads``."""
        (sum_shape,) = self._take_cache()
        if self.post is not None:
            dout = self.post.backward(dout)
        dout = self._checked_dout(dout, sum_shape)
        dx = np.asarray(self.block.backward(dout))
        dskip = dout if self.shortcut is None else np.asarray(self.shortcut.backward(dout))
        return dx + dskip

    def __repr__(self):
        body = f"  block={_indent(repr(self.block))}"
        if self.shortcut is not None:
            body += f",\n  shortcut={_indent(repr(self.shortcut))}"
        if self.post is not None:
            body += f",\n  post={_indent(repr(self.post))}"
        return f"Residual(\n{body}\n)"


class Parallel(_Container):
    """Branches applied to the same input, their outputs concatenated along ``axis``.

    GoogLeNet's Inception module (Szegedy et al., 2015): 1×1, 3×3 and 5×5 convolutions and a
    pooling path side by side, concatenated along the channels. Every branch must give
    outputs of the same shape except along ``axis`` (e.g. the same N, H and W: pad the
    convolutions to keep the spatial size).

    Parameters
    ----------
    *branches : layers
        At least one; a branch of several layers is a ``Sequential``.
    axis : int, default 1
        The axis of concatenation (the channels of (N, C, H, W) or the features of (N, D)); not
        the batch axis 0. Negative values count from the end.

    Attributes
    ----------
    branches : tuple
    params : dict
        ``"<branch index>.<name>"`` -> the branches' arrays, e.g. ``"0.w"``, ``"1.0.w"``;
        assigning an item writes the array into the branch.
    grads : dict
        Keyed like ``params``, set by :meth:`backward`.
    training : bool
        The mode, propagated to the branches.

    Raises
    ------
    ValueError
        If no branch is given, one layer object is given twice or ``axis`` is 0; at
        :meth:`forward`, if the branches' outputs differ in a dimension other than ``axis`` or
        in number of dimensions, or ``axis`` is out of their range or names the batch axis.
    TypeError
        If a branch is not a layer, or ``axis`` is not an int.

    Notes
    -----
    ``backward`` splits ``dout`` along ``axis`` into each branch's part, runs each branch
    backward on its part, and adds their input gradients.

    Examples
    --------
    >>> import numpy as np
    >>> from cs231n_fast.nn import Conv2D, Parallel, Sequential
    >>> inception = Parallel(Conv2D(4, 8, 1, seed=0),
    ...                      Sequential(Conv2D(4, 4, 1, seed=1), Conv2D(4, 6, 3, pad=1, seed=2)))
    >>> inception.forward(np.ones((2, 4, 5, 5), np.float32)).shape
    (2, 14, 5, 5)
    >>> list(inception.params)
    ['0.w', '0.b', '1.0.w', '1.0.b', '1.1.w', '1.1.b']
    """

    def __init__(self, *branches, axis=1):
        if not branches:
            raise ValueError("branches: Parallel needs at least one branch; got none")
        named = [(str(i), _check_layer(f"branches[{i}]", b)) for i, b in enumerate(branches)]
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise TypeError(f"axis must be an int; got {type(axis).__name__}")
        if axis == 0:
            raise ValueError("axis must not be 0, the batch axis; got 0 (channels: axis=1)")
        super().__init__(named)
        self.branches = tuple(branches)
        self.axis = int(axis)

    def forward(self, x):
        """x -> the branches' outputs concatenated along ``axis``."""
        outs = [np.asarray(branch.forward(x)) for branch in self.branches]
        first = outs[0]
        ndim = first.ndim
        if not -ndim <= self.axis < ndim or self.axis % ndim == 0:
            raise ValueError(
                f"axis must be a non-batch axis of the branches' {ndim}-dimensional outputs "
                f"(1 to {ndim - 1}, or -{ndim - 1} to -1); got {self.axis}"
            )
        axis = self.axis % ndim
        for i, out in enumerate(outs[1:], 1):
            if out.ndim != ndim or any(
                a != b for d, (a, b) in enumerate(zip(out.shape, first.shape)) if d != axis
            ):
                raise ValueError(
                    f"Parallel: the outputs of branches[0] (shape {first.shape}) and "
                    f"branches[{i}] (shape {out.shape}) must agree in every dimension but axis "
                    f"{axis} to be concatenated along it"
                )
        out = np.concatenate(outs, axis=axis)
        sizes = [o.shape[axis] for o in outs]
        self._cache = (out.shape, axis, np.cumsum(sizes)[:-1])
        return out

    def backward(self, dout):
        """dout (of the forward output's shape) -> dx, the sum of the branches' input gradients;
        fills their ``grads``."""
        out_shape, axis, splits = self._take_cache()
        dout = self._checked_dout(dout, out_shape)
        dx = None
        for branch, part in zip(self.branches, np.split(dout, splits, axis=axis)):
            d = np.asarray(branch.backward(np.ascontiguousarray(part)))
            dx = d if dx is None else dx + d
        return dx

    def __repr__(self):
        body = "".join(f"  ({i}): {_indent(repr(b))}\n" for i, b in enumerate(self.branches))
        return f"Parallel(\n{body}  axis={self.axis}\n)"


class _Simple(_TrainEval, _Cached):
    """A parameter-free layer of NumPy code: the protocol's attributes, the mode (no effect on
    the computation), the cache."""

    runs_kernels = False

    def __init__(self):
        self.params = {}
        self.grads = {}
        self.training = True
        self._cache = None


class GlobalAvgPool2D(_Simple):
    """The mean of each channel over its H × W positions: (N, C, H, W) -> (N, C).

    The pooling that ResNet and GoogLeNet use in place of large fully connected layers before
    the classifier. Outputs float32 for float32 inputs, float64 otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> from cs231n_fast.nn import GlobalAvgPool2D
    >>> GlobalAvgPool2D().forward(np.arange(8.0).reshape(1, 2, 2, 2))
    array([[1.5, 5.5]])
    """

    def forward(self, x):
        """x of shape (N, C, H, W) -> out of shape (N, C)."""
        x = as_array("x", x)
        check_ndim("x", x, 4, "(N, C, H, W)")
        if x.shape[2] * x.shape[3] == 0:
            raise ValueError(f"x must have at least one position (H, W >= 1); got shape {x.shape}")
        dtype = result_dtype(x)
        out = x.mean(axis=(2, 3), dtype=dtype)
        self._cache = (x.shape, dtype)
        return out

    def backward(self, dout):
        """dout of shape (N, C) -> dx of shape (N, C, H, W), ``dout / (H * W)`` at every
        position."""
        shape, dtype = self._take_cache()
        dout = as_array("dout", dout)
        check_shape("dout", dout, shape[:2], "the shape of the forward output")
        dtype = dtype if dout.dtype == dtype else np.dtype(np.float64)
        scale = dtype.type(1.0 / (shape[2] * shape[3]))
        dx = np.empty(shape, dtype=dtype)
        dx[...] = (dout.astype(dtype, copy=False) * scale)[:, :, None, None]
        return dx

    def __repr__(self):
        return "GlobalAvgPool2D()"


class ZeroPad2D(_Simple):
    """Zero padding of the spatial axes: (N, C, H, W) -> (N, C, H + 2 ph, W + 2 pw).

    Before :class:`~cs231n_fast.nn.MaxPool2D` (which does not pad) on non-negative inputs, such
    as those after a ReLU, zero padding gives the same maxima as the usual ``-inf`` padding:
    the Inception module's 3×3 max pooling with stride 1 that keeps the spatial size is
    ``Sequential(ZeroPad2D(1), MaxPool2D(3, stride=1))``.

    Parameters
    ----------
    pad : int or (int, int)
        ph and pw, >= 0.
    """

    def __init__(self, pad):
        super().__init__()
        self.pad = pair("pad", pad, 0)

    def forward(self, x):
        """x of shape (N, C, H, W) -> the padded copy."""
        x = as_array("x", x)
        check_ndim("x", x, 4, "(N, C, H, W)")
        ph, pw = self.pad
        dtype = result_dtype(x)
        out = np.pad(x.astype(dtype, copy=False), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
        self._cache = (x.shape, out.shape, dtype)
        return out

    def backward(self, dout):
        """dout of the padded shape -> dx, its interior."""
        shape, out_shape, dtype = self._take_cache()
        dout = as_array("dout", dout)
        check_shape("dout", dout, out_shape, "the shape of the forward output")
        ph, pw = self.pad
        dx = dout[:, :, ph:ph + shape[2], pw:pw + shape[3]]
        # the dtype policy: float32 only if the forward ran in float32 and dout is float32
        return np.array(dx, dtype=dtype if dout.dtype == dtype else np.float64)

    def __repr__(self):
        return f"ZeroPad2D(pad={self.pad})"

"""Sequential: a stack of layer classes as a course model that the ``Solver`` trains.

A :class:`Sequential` model has the interface of the course's models (``FullyConnectedNet``,
``ThreeLayerConvNet``): ``params``, a dict of parameter name -> array, and
``loss(X, y=None)``, giving the scores, or the loss and the gradients keyed like ``params``.
Parameter names are ``"<index>.<name>"``, e.g. ``"0.W"`` for the weights of the first layer.

Freezing (beyond the course): a layer with ``trainable = False`` (set it, or
:meth:`Sequential.freeze`) is left out of ``params`` and ``grads``, so the Solver (or any loop
over ``model.params``) does not update it; it runs in evaluation mode (dropout off, batch
normalisation with its running statistics, which stay unchanged) and the backward pass stops
before the first trainable layer. :meth:`Sequential.state_dict`, :meth:`Sequential.save` and
:meth:`Sequential.load` cover every parameter, frozen or not, and the buffers (batch
normalisation running means and variances).
"""

from collections.abc import Mapping

import numpy as np

from .. import layers as _functional
from .._validation import (
    as_array,
    check_shape,
    check_state_keys,
    check_state_shape,
    real_number,
)
from .._model import l2_penalty
from .._threads import holds_blas_single_thread
from ..regularization import layer_max_norm_axes

__all__ = ["Sequential"]

#: The score layers of the course: name -> loss(x, y) -> (loss, dx).
_LOSSES = {"softmax": _functional.softmax_loss, "svm": _functional.svm_loss}

#: Parameters decayed by ``reg``: the weight matrices and filters (Affine, Maxout, Conv2D, ...),
#: as in the course, not the biases, normalisation scales and shifts, or PReLU slopes.
_WEIGHT_NAMES = ("W", "w")

_LAYER_ATTRIBUTES = ("forward", "backward", "params", "grads")


def _trainable(layer):
    """Whether the layer's parameters are trained (the ``trainable`` flag, True if absent)."""
    return getattr(layer, "trainable", True) is not False


def _layer_state(layer):
    """The arrays of one layer's state: ``layer.state_dict()`` if it has one (containers),
    else its ``params`` and its ``buffers`` (a dict of live arrays, e.g. batch normalisation's
    running statistics)."""
    own = getattr(layer, "state_dict", None)
    if callable(own):
        return dict(own())
    state = dict(layer.params)
    for name, value in (getattr(layer, "buffers", None) or {}).items():
        if name in state:
            raise ValueError(f"{type(layer).__name__} has a buffer and a parameter named {name!r}")
        state[name] = value
    return state


def load_children_state(container, named, state, owner, check_value_shape=check_state_shape):
    """Copy ``state`` into the children ``named`` (``(prefix, layer)`` pairs) of ``container``:
    the body of a container's ``load_state_dict``.

    All or nothing: every key and shape is checked against ``container.state_dict()`` first
    (messages name ``owner``); values are cast to the dtype of the array they replace. A child
    with its own ``load_state_dict`` gets its entries without the ``"<prefix>."``; others have
    their ``params`` replaced and their ``buffers`` written in place. Returns ``container``.
    ``check_value_shape(key, value, shape)`` raises on a value of another shape.
    """
    current = container.state_dict()
    check_state_keys(state, current, owner)
    checked = {}
    for key, old in current.items():
        value = as_array(f"state[{key!r}]", state[key])
        check_value_shape(key, value, np.shape(old))
        checked[key] = np.array(value, dtype=np.asarray(old).dtype)
    for prefix, layer in named:
        sub = {k[len(prefix) + 1:]: v for k, v in checked.items() if k.startswith(prefix + ".")}
        own = getattr(layer, "load_state_dict", None)
        if callable(own):
            own(sub)
            continue
        buffers = getattr(layer, "buffers", None) or {}
        for name, value in sub.items():
            if name in layer.params:
                layer.params[name] = value
            else:
                buffers[name][...] = value
    return container


def _nested(layer, path):
    """``(path, layer)`` for ``layer`` and every layer nested in it (the children of
    ``Sequential`` and of the graph containers, found by ``named_layers()`` or ``layers``)."""
    yield path, layer
    named = getattr(layer, "named_layers", None)
    if callable(named):
        children = [(f"{path}.{name}", child) for name, child in named()]
    else:
        sub = getattr(layer, "layers", None)
        children = ([(f"{path}[{i}]", c) for i, c in enumerate(sub)]
                    if isinstance(sub, (tuple, list)) else [])
    for child_path, child in children:
        yield from _nested(child, child_path)


def check_distinct_layers(named):
    """ValueError unless the layers of ``named`` (``(name, layer)`` pairs) and the layers nested
    in them are distinct objects: a layer keeps the cache of its last forward, so a second use
    anywhere in the model (at the top or inside a block) would overwrite the first's, and the
    backward pass would silently use the wrong cache."""
    seen = {}
    for name, layer in named:
        for path, sub in _nested(layer, name):
            other = seen.setdefault(id(sub), path)
            if other != path:
                raise ValueError(
                    f"{other} and {path} are the same {type(sub).__name__} object; a layer keeps "
                    "the cache of its last forward, so use a new object at each position"
                )


class _WriteThroughParams(dict):
    """A snapshot of a model's parameters whose item assignment (and ``update``, all or none)
    checks the new array (an existing key, the parameter's shape; cast to its dtype) and writes
    it into the layer holding the parameter (the subclass's ``_write``)."""

    def _checked(self, key, value):
        """``value`` as an array of the parameter's shape and dtype (no copy if it has them)."""
        if key not in self:
            raise ValueError(f"params has no parameter {key!r}; its keys are {list(self)}")
        old = self[key]
        name = f"params[{key!r}]"
        value = as_array(name, value)
        check_shape(name, value, old.shape, "the shape of the parameter it replaces")
        return value.astype(old.dtype, copy=False)

    def _write(self, key, value):
        raise NotImplementedError

    def __setitem__(self, key, value):
        self._write(key, self._checked(key, value))

    def update(self, *args, **kwargs):
        new = dict(*args, **kwargs)
        checked = {key: self._checked(key, value) for key, value in new.items()}  # all or none
        for key, value in checked.items():
            self._write(key, value)

    def __reduce__(self):
        # Pickled or copied on its own, a snapshot is a plain dict of its arrays (detached from
        # the model; unpickling a subclass would call the checking __setitem__ before any key).
        return (dict, (dict(self),))


class _Parameters(_WriteThroughParams):
    """The parameters of a :class:`Sequential` model, ``"<index>.<name>"`` -> array.

    A snapshot (``model.params`` makes a new one) holding the layers' own arrays; item
    assignment (and ``update``) writes the new array into the layer, so the Solver's
    ``model.params[k] = next_w`` updates the model. New keys cannot be added.
    """

    def __init__(self, model):
        super().__init__(
            (f"{i}.{name}", value)
            for i, layer in enumerate(model.layers)
            if _trainable(layer)
            for name, value in layer.params.items()
        )
        self._layers = model.layers

    def _write(self, key, value):
        index, name = key.split(".", 1)
        self._layers[int(index)].params[name] = value
        dict.__setitem__(self, key, value)  # the snapshot too, unchecked


class Sequential:
    """Layers applied one after the other, with the course's softmax or SVM loss on top.

    Parameters
    ----------
    *layers : layer objects
        Each with ``forward(x) -> out``, ``backward(dout) -> dx`` and ``params``/``grads``
        dicts: the classes of :mod:`cs231n_fast.nn` such as ``Conv2D``, ``MaxPool2D``,
        ``Affine``, ``ReLU``, ``BatchNorm``, ``Dropout``, ``Flatten`` (or another
        ``Sequential``). The last one outputs the scores, of shape (N, C).
    loss : {"softmax", "svm"}, default "softmax"
        ``layers.softmax_loss`` or ``layers.svm_loss``.
    reg : float, default 0.0
        L2 regularisation strength: ``loss(X, y)`` adds ``0.5 * reg * sum(W ** 2)`` for every
        weight matrix or filter bank (parameters named ``W`` or ``w``), as the course's models
        do.

    Attributes
    ----------
    layers : tuple
    params : dict
        ``"<index>.<name>"`` -> the layer's array, e.g. ``"0.W"``. Assigning
        ``model.params[key] = array`` (as the Solver does) or ``model.params = dict`` (the same
        keys) writes the arrays into the layers, cast to the parameter's dtype.
    grads : dict
        The layers' gradients of the last :meth:`backward`, keyed like ``params`` (without the
        regularisation term, which :meth:`loss` adds).
    training : bool
        The mode, propagated to the layers that have one (``Dropout``, ``BatchNorm``, ...).

    Raises
    ------
    ValueError
        If no layer is given, one layer object is given twice, ``loss`` is unknown or ``reg``
        is negative.
    TypeError
        If a layer lacks ``forward``, ``backward``, ``params`` or ``grads``.

    Examples
    --------
    >>> from cs231n_fast.nn import Affine, ReLU, Sequential
    >>> model = Sequential(Affine(64, 32), ReLU(), Affine(32, 10), reg=1e-3)
    >>> list(model.params)
    ['0.W', '0.b', '2.W', '2.b']
    >>> Solver(model, data, update_rule="adam").train()  # doctest: +SKIP
    """

    def __init__(self, *layers, loss="softmax", reg=0.0):
        if not layers:
            raise ValueError("layers: Sequential needs at least one layer; got none")
        for i, layer in enumerate(layers):
            missing = [a for a in _LAYER_ATTRIBUTES if not hasattr(layer, a)]
            if missing:
                raise TypeError(
                    f"layers[{i}] must be a layer with {', '.join(_LAYER_ATTRIBUTES)}; got "
                    f"{type(layer).__name__}, which has no {', '.join(missing)}"
                )
        # one cache per layer object: a second use, here or nested, would overwrite the first's
        check_distinct_layers((f"layers[{i}]", layer) for i, layer in enumerate(layers))
        if not (isinstance(loss, str) and loss in _LOSSES):
            raise ValueError(f"loss must be one of {sorted(_LOSSES)}; got {loss!r}")
        self.layers = tuple(layers)
        self.loss_type = loss
        self.reg = real_number("reg", reg, 0.0)
        self.training = True
        self.trainable = True

    @property
    def params(self):
        return _Parameters(self)

    @params.setter
    def params(self, new):
        if not isinstance(new, Mapping):
            raise TypeError(
                f"params must be a dict of parameter name -> array; got {type(new).__name__}"
            )
        current = self.params
        missing, unknown = set(current) - set(new), set(new) - set(current)
        if missing or unknown:
            raise ValueError(
                f"params must have exactly the model's keys {list(current)}; missing "
                f"{sorted(missing)}, unknown {sorted(map(str, unknown))}"
            )
        current.update(new)

    @property
    def grads(self):
        return {
            f"{i}.{name}": grad
            for i, layer in enumerate(self.layers)
            if _trainable(layer)
            for name, grad in layer.grads.items()
        }

    def _set_mode(self, training):
        self.training = training
        for layer in self.layers:
            # a frozen layer always runs in evaluation mode
            mode = "train" if training and _trainable(layer) else "eval"
            switch = getattr(layer, mode, None)
            if callable(switch):
                switch()

    def train(self):
        """Switch the model and its layers to training mode; returns the model."""
        self._set_mode(True)
        return self

    def eval(self):
        """Switch the model and its layers to evaluation (test) mode; returns the model."""
        self._set_mode(False)
        return self

    @holds_blas_single_thread(lambda self: self._uses_kernels())
    def forward(self, x):
        """x -> the last layer's output, in the current mode."""
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def __call__(self, x):
        return self.forward(x)

    @holds_blas_single_thread(lambda self: self._uses_kernels())
    def backward(self, dout):
        """dout (of the forward output's shape) -> dx; fills every layer's ``grads``."""
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout

    @holds_blas_single_thread(lambda self: self._uses_kernels())
    def _backward_params(self, dout):
        """:meth:`backward` for the loss: fills every trainable layer's ``grads`` but computes
        no input gradient. Layers before the first trainable one with parameters are not run
        backward at all; that one skips its dx when it can (``_backward_no_dx``: affine,
        convolution)."""
        layers = self.layers
        first = next(
            (i for i, layer in enumerate(layers) if layer.params and _trainable(layer)), len(layers)
        )
        for i in range(len(layers) - 1, first - 1, -1):
            layer = layers[i]
            if i == first and hasattr(layer, "_backward_no_dx"):
                layer._backward_no_dx(dout)
            else:
                dout = layer.backward(dout)

    def _uses_kernels(self):
        """True when a layer runs the compiled kernels: then forward and backward hold NumPy's
        BLAS to one thread (:func:`cs231n_fast._threads.holds_blas_single_thread`)."""
        return any(getattr(layer, "runs_kernels", False) for layer in self.layers)

    def _forward_in_mode(self, X, training):
        """:meth:`forward` in the given mode, then back to the model's mode."""
        previous = self.training
        self._set_mode(training)
        try:
            return self.forward(X)
        finally:
            self._set_mode(previous)

    def loss(self, X, y=None):
        """Evaluate loss and gradient, as the course's models do.

        Parameters
        ----------
        X : array_like of shape (N, d_1, ..., d_k)
            Input data, as the first layer takes it.
        y : array_like of int, shape (N,), optional
            Labels, ``y[i]`` in [0, C).

        Returns
        -------
        scores : ndarray of shape (N, C)
            If ``y`` is None: the test-time scores (evaluation mode: no dropout, batch
            normalisation with the running statistics).
        loss, grads : float, dict
            Otherwise: the data loss plus the L2 term from a training-mode forward and the
            backward pass; ``grads`` keyed like ``params``.

        The model's mode (``training``) is the same after the call as before. The backward
        pass computes no gradient of ``X``: the layers before the first one with parameters are
        not run backward, and that one (an affine or convolution layer) skips its input
        gradient.
        """
        scores = self._forward_in_mode(X, training=y is not None)
        if y is None:
            return scores
        if np.ndim(scores) != 2:
            raise ValueError(
                f"the last layer must output scores of shape (N, C) for the {self.loss_type} loss; "
                f"got shape {np.shape(scores)}"
            )
        loss, dscores = _LOSSES[self.loss_type](scores, y)
        self._backward_params(dscores)
        params, grads = self.params, self.grads
        weights = [key for key in params if key.rsplit(".", 1)[-1] in _WEIGHT_NAMES]
        loss += l2_penalty(self.reg, params, grads, weights)
        return loss, grads

    def max_norm_axes(self):
        """The max-norm axes the trainable layers declare, keyed like ``params`` (see
        :func:`cs231n_fast.regularization.layer_max_norm_axes`)."""
        return {
            f"{i}.{name}": axes
            for i, layer in enumerate(self.layers)
            if _trainable(layer)
            for name, axes in layer_max_norm_axes(layer).items()
        }

    # --- freezing ---------------------------------------------------------------------------

    def freeze(self, upto=None):
        """Set ``trainable = False`` on ``layers[:upto]`` (all layers if None); returns the model.

        ``upto`` may be negative, as a slice end: ``freeze(-1)`` freezes all but the last
        layer. Frozen layers leave ``params``/``grads`` (the Solver does not update them) and
        run in evaluation mode.
        """
        if upto is not None and (isinstance(upto, bool) or not isinstance(upto, int)):
            raise TypeError(f"upto must be None or an int (a slice end); got {upto!r}")
        for layer in self.layers[:upto]:
            layer.trainable = False
        return self

    def unfreeze(self):
        """Set ``trainable = True`` on each of this model's own layers (what :meth:`freeze`
        sets); returns the model. A layer frozen by hand inside a container (a ``Residual``
        block, a nested ``Sequential``) keeps its own ``trainable``: unfreeze it there."""
        for layer in self.layers:
            layer.trainable = True
        return self

    # --- state: parameters and buffers ------------------------------------------------------

    def state_dict(self):
        """Every parameter (frozen or not) and buffer, ``"<index>.<name>"`` -> the live array.

        Buffers are the layers' ``buffers`` (batch normalisation: ``running_mean``,
        ``running_var``); a layer with its own ``state_dict()`` (a container) contributes its
        entries under ``"<index>."``.
        """
        return {
            f"{i}.{name}": value
            for i, layer in enumerate(self.layers)
            for name, value in _layer_state(layer).items()
        }

    def load_state_dict(self, state):
        """Copy the arrays of ``state`` (as from :meth:`state_dict`) into the model.

        All or nothing: every key is checked first. Values are cast to the dtype of the array
        they replace.

        Raises
        ------
        ValueError
            Keys missing from ``state`` or unknown to the model (a different architecture),
            listed; a value whose shape differs, naming its key and both shapes.
        """
        return load_children_state(
            self, [(str(i), layer) for i, layer in enumerate(self.layers)], state, "model"
        )

    def save(self, path):
        """Write :meth:`state_dict` to the ``.npz`` file ``path``
        (:func:`cs231n_fast.serialization.save`)."""
        from ..serialization import save

        return save(self, path)

    def load(self, path):
        """Read parameters and buffers from the ``.npz`` file ``path`` into the model
        (:func:`cs231n_fast.serialization.load`); returns the model."""
        from ..serialization import load

        load(self, path)
        return self

    def __repr__(self):
        body = "".join(f"  ({i}): {layer!r}\n" for i, layer in enumerate(self.layers))
        return f"Sequential(\n{body}  loss={self.loss_type!r}, reg={self.reg}\n)"

"""Save and load a model's parameters and buffers as a ``.npz`` file.

Works for :class:`~cs231n_fast.nn.Sequential` (and any model with ``state_dict()`` /
``load_state_dict(state)``) and for the course's models (``FullyConnectedNet``,
``ThreeLayerConvNet``, ``CaptioningRNN``, ...: a ``params`` dict, and for batch normalisation
the ``bn_params`` list holding the running means and variances):

* Sequential: the keys of :meth:`~cs231n_fast.nn.Sequential.state_dict`, ``"0.W"``,
  ``"2.running_mean"``, ...;
* course models: ``"params.<name>"`` for each parameter (``"params.W1"``) and
  ``"bn_params.<i>.<key>"`` for each array of ``bn_params[i]`` (``"bn_params.0.running_mean"``).

Loading checks the architecture before changing anything: keys missing from the file or
unknown to the model raise a ``ValueError`` listing them, a shape mismatch names the key and
both shapes. Values take the dtype of the arrays they replace. Files are read with
``allow_pickle=False``.

Examples
--------
>>> import os, tempfile
>>> from cs231n_fast.classifiers.fc_net import FullyConnectedNet
>>> from cs231n_fast.serialization import save, load
>>> a = FullyConnectedNet([8], input_dim=16, num_classes=3, normalization="batchnorm", seed=0)
>>> b = FullyConnectedNet([8], input_dim=16, num_classes=3, normalization="batchnorm", seed=1)
>>> path = os.path.join(tempfile.mkdtemp(), "model.npz")
>>> save(a, path)
>>> bool((load(b, path).params["W1"] == a.params["W1"]).all())
True
"""

import os
from collections.abc import Mapping

import numpy as np

from ._validation import check_state_keys, check_state_shape

__all__ = ["state_dict", "load_state_dict", "save", "load"]

#: The buffers of a course batch normalisation (``bn_params[i]``), created by its first forward.
_BN_BUFFERS = ("running_mean", "running_var")


def _has(model, name):
    return callable(getattr(model, name, None))


def _course_params(model):
    params = getattr(model, "params", None)
    if not isinstance(params, Mapping):
        raise TypeError(
            "model must have state_dict()/load_state_dict() or a dict attribute params (the "
            f"course's models); got {type(model).__name__}"
        )
    return params


def state_dict(model):
    """The model's parameters and buffers, name -> array (the live arrays, not copies).

    ``model.state_dict()`` if the model has one; for a course model ``"params.<name>"`` and
    ``"bn_params.<i>.<key>"`` (the arrays of each ``bn_params[i]``).
    """
    if _has(model, "state_dict"):
        return dict(model.state_dict())
    state = {f"params.{k}": v for k, v in _course_params(model).items()}
    for i, bn_param in enumerate(getattr(model, "bn_params", None) or []):
        for key, value in bn_param.items():
            if isinstance(value, np.ndarray):
                state[f"bn_params.{i}.{key}"] = value
    return state


def _expected_course_keys(model):
    """key -> (shape, dtype, required) of everything a course model's file may hold."""
    params = _course_params(model)
    expected = {f"params.{k}": (np.shape(v), np.asarray(v).dtype, True) for k, v in params.items()}
    batchnorm = getattr(model, "normalization", None) == "batchnorm"
    for i, bn_param in enumerate(getattr(model, "bn_params", None) or []):
        for key, value in bn_param.items():
            if isinstance(value, np.ndarray):
                expected[f"bn_params.{i}.{key}"] = (value.shape, value.dtype, True)
        gamma = params.get(f"gamma{i + 1}")
        if batchnorm and gamma is not None:
            # not run forward yet: the running statistics do not exist, but a file may have them
            for key in _BN_BUFFERS:
                expected.setdefault(
                    f"bn_params.{i}.{key}", (np.shape(gamma), np.asarray(gamma).dtype, False)
                )
    return expected


def load_state_dict(model, state):
    """Copy the arrays of ``state`` into the model (all or nothing); returns the model.

    Raises
    ------
    ValueError
        Keys missing from ``state`` or unknown to the model (listed), or a shape mismatch
        (naming the key and both shapes).
    TypeError
        ``state`` not a mapping; a model that is neither a Sequential-like model nor a course
        model.
    """
    if not isinstance(state, Mapping):
        raise TypeError(f"state must be a dict of name -> array; got {type(state).__name__}")
    if _has(model, "load_state_dict"):
        model.load_state_dict(state)
        return model
    expected = _expected_course_keys(model)
    check_state_keys(state, expected, "model", required=lambda key: expected[key][2])
    checked = {}
    for key, value in state.items():
        shape, dtype, _ = expected[key]
        value = np.asarray(value)
        check_state_shape(key, value, shape)
        checked[key] = np.array(value, dtype=dtype)
    for key, value in checked.items():
        kind, rest = key.split(".", 1)
        if kind == "params":
            model.params[rest] = value
        else:
            i, name = rest.split(".", 1)
            model.bn_params[int(i)][name] = value
    return model


def save(model, path):
    """Write :func:`state_dict` of ``model`` to ``path`` (``np.savez``; NumPy appends ``.npz``
    to a name without it)."""
    state = {k: np.asarray(v) for k, v in state_dict(model).items()}
    np.savez(os.fspath(path), **state)


def load(model, path):
    """Read a file written by :func:`save` into ``model`` (:func:`load_state_dict`); returns
    the model."""
    with np.load(os.fspath(path), allow_pickle=False) as f:
        state = {k: f[k] for k in f.files}
    return load_state_dict(model, state)

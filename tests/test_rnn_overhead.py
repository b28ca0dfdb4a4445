"""The recurrent functions' cheap paths change nothing observable.

``recurrent_args`` and ``recurrent_grad`` compare shapes first and run the detailed checks
(which build the messages) only when that comparison fails; ``_check_recurrent_cache``
remembers the field shapes of caches it accepted; ``effective_n_threads`` reads the environment
only when the CPU cap could change its answer. Here: the exact messages the recurrent functions
raised before those changes, the fast shape comparison agreeing with the detailed checks on
random shapes, doctored caches of every type rejected before native code runs, and the thread
count following OpenMP, the CPUs and ``OMP_NUM_THREADS`` as before.
"""

import dataclasses
import os

import numpy as np
import pytest

from cs231n_fast import _threads, _validation
from cs231n_fast._cache import LSTMCache, LSTMStepCache, RNNCache, RNNStepCache
from cs231n_fast._threads import effective_n_threads
from cs231n_fast._validation import RNN_GATES, _check_recurrent_shapes, _recurrent_shapes_agree
from cs231n_fast.ops import rnn

N, T, D, H = 2, 3, 4, 5
Z = np.zeros
KINDS = [("rnn", True), ("rnn", False), ("lstm", True), ("lstm", False)]


def _name(kind, step, what):
    return f"{kind}_{'step_' if step else ''}{what}"


def _args(kind, step, **replace):
    """Valid arguments of a recurrent forward (keys x, h, c, Wx, Wh, b), some replaced."""
    g = RNN_GATES[kind]
    args = dict(x=np.ones((N, D) if step else (N, T, D)), h=np.ones((N, H)), Wx=np.ones((D, g * H)),
                Wh=np.ones((H, g * H)), b=np.ones(g * H))
    if kind == "lstm" and step:
        args["c"] = np.ones((N, H))
    args.update(replace)
    return args


def _forward(kind, step, **replace):
    a = _args(kind, step, **replace)
    f = getattr(rnn, _name(kind, step, "forward"))
    if kind == "lstm" and step:
        return f(a["x"], a["h"], a["c"], a["Wx"], a["Wh"], a["b"])
    return f(a["x"], a["h"], a["Wx"], a["Wh"], a["b"], *((a["c"],) if "c" in a else ()))


def _backward(kind, step, grads=None, doctor=None):
    *outs, cache = _forward(kind, step)
    if grads is not None:
        outs = grads(outs)
    if doctor is not None:
        cache = doctor(cache)
    return getattr(rnn, _name(kind, step, "backward"))(*outs, cache)


def _replace(**fields):
    return lambda cache: dataclasses.replace(cache, **fields)


class _NoKernel:
    """Stands in for the compiled module: any use of it fails the test."""

    def __getattr__(self, name):
        raise AssertionError(f"native code ({name}) reached with a bad cache")


# --- the messages, as raised before the cheap paths were added --------------------------------

FORWARD_ERRORS = [
    ("rnn", True, dict(x=Z((2, 3, 4))), ValueError,
     "x must be a 2-D array of shape (N, D); got shape (2, 3, 4)"),
    ("rnn", True, dict(h=Z(5)), ValueError,
     "prev_h must be a 2-D array of shape (N, H); got shape (5,)"),
    ("rnn", True, dict(x=Z((0, 4))), ValueError,
     "x must have no zero-size dimension ((N, D)); got shape (0, 4)"),
    ("rnn", True, dict(h=Z((2, 0))), ValueError,
     "prev_h must have no zero-size dimension ((N, H)); got shape (2, 0)"),
    ("rnn", True, dict(h=Z((3, 5))), ValueError,
     "prev_h must have shape (N, H) with the batch size N = 2 of x; got (3, 5)"),
    ("rnn", True, dict(Wx=Z((5, 5))), ValueError,
     "Wx must have shape (4, 5) ((D, H) for x with D = 4 and prev_h with H = 5); got shape (5, 5)"),
    ("rnn", True, dict(Wx=Z(5)), ValueError,
     "Wx must be a 2-D array of shape (D, H); got shape (5,)"),
    ("rnn", True, dict(Wh=Z((5, 4))), ValueError,
     "Wh must have shape (5, 5) ((H, H) for prev_h with H = 5); got shape (5, 4)"),
    ("rnn", True, dict(b=Z((1, 5))), ValueError,
     "b must be a 1-D array of shape (H,); got shape (1, 5)"),
    ("rnn", True, dict(b=Z(4)), ValueError,
     "b must have shape (5,) ((H,) for prev_h with H = 5); got shape (4,)"),
    ("rnn", True, dict(x=Z((2, 4), complex)), TypeError,
     "x must be a real numeric array (float32 or float64, or integers); got dtype complex128 (complex)"),
    ("rnn", False, dict(x=Z((2, 4))), ValueError,
     "x must be a 3-D array of shape (N, T, D); got shape (2, 4)"),
    ("rnn", False, dict(x=Z((2, 0, 4))), ValueError,
     "x must have no zero-size dimension ((N, T, D)); got shape (2, 0, 4)"),
    ("rnn", False, dict(h=Z((2, 5, 1))), ValueError,
     "h0 must be a 2-D array of shape (N, H); got shape (2, 5, 1)"),
    ("rnn", False, dict(Wh=Z((5, 5, 1))), ValueError,
     "Wh must be a 2-D array of shape (H, H); got shape (5, 5, 1)"),
    ("lstm", True, dict(c=None), TypeError,
     "prev_c must be an array of shape (N, H), the previous cell state; got None"),
    ("lstm", True, dict(c=Z((2, 4))), ValueError,
     "prev_c must have shape (2, 5) ((N, H), the shape of prev_h); got shape (2, 4)"),
    ("lstm", True, dict(c=Z(5)), ValueError,
     "prev_c must have shape (2, 5) ((N, H), the shape of prev_h); got shape (5,)"),
    ("lstm", True, dict(Wx=Z((4, 5))), ValueError,
     "Wx must have shape (4, 20) ((D, 4H) for x with D = 4 and prev_h with H = 5); got shape (4, 5)"),
    ("lstm", True, dict(Wh=Z((5, 5))), ValueError,
     "Wh must have shape (5, 20) ((H, 4H) for prev_h with H = 5); got shape (5, 5)"),
    ("lstm", True, dict(b=Z(5)), ValueError,
     "b must have shape (20,) ((4H,) for prev_h with H = 5); got shape (5,)"),
    ("lstm", True, dict(Wx=Z((4, 20)), Wh=Z((5, 21)), b=Z(19)), ValueError,
     "Wh must have shape (5, 20) ((H, 4H) for prev_h with H = 5); got shape (5, 21)"),
    ("lstm", True, dict(Wh=Z((5, 20), object)), TypeError,
     "Wh must be a real numeric array (float32 or float64, or integers); got dtype object (object)"),
    ("lstm", False, dict(c=Z((5, 2))), ValueError,
     "c0 must have shape (2, 5) ((N, H), the shape of h0); got shape (5, 2)"),
    ("lstm", False, dict(Wx=Z((4, 20, 1))), ValueError,
     "Wx must be a 2-D array of shape (D, 4H); got shape (4, 20, 1)"),
    ("lstm", False, dict(b=Z(21)), ValueError,
     "b must have shape (20,) ((4H,) for h0 with H = 5); got shape (21,)"),
    ("lstm", False, dict(x=Z((2, 3, 0))), ValueError,
     "x must have no zero-size dimension ((N, T, D)); got shape (2, 3, 0)"),
]


@pytest.mark.parametrize("kind, step, replace, exc, message", FORWARD_ERRORS)
def test_recurrent_forward_bad_input_message_unchanged(kind, step, replace, exc, message):
    with pytest.raises(exc) as info:
        _forward(kind, step, **replace)
    assert str(info.value) == message


BACKWARD_ERRORS = [
    ("rnn", True, dict(grads=lambda o: [Z((2, 4))]), ValueError,
     "dnext_h must have shape (2, 5) ((N, H), the shape of the rnn_step_forward output it is the gradient of); "
     "got shape (2, 4)"),
    ("rnn", True, dict(grads=lambda o: [Z(5)]), ValueError,
     "dnext_h must be a 2-D array of shape (N, H); got shape (5,)"),
    ("rnn", True, dict(doctor=_replace(Wx=Z((7, 5)))), ValueError,
     "cache is not the one rnn_step_forward returned: its Wx has shape (7, 5), which disagrees with (D, H) of its "
     "other arrays"),
    ("rnn", True, dict(doctor=_replace(next_h=Z((2, 5, 1)))), ValueError,
     "cache is not the one rnn_step_forward returned: its next_h has shape (2, 5, 1), which disagrees with (N, H) of "
     "its other arrays"),
    ("rnn", True, dict(doctor=lambda c: _forward("rnn", False)[1]), TypeError,
     "cache must be the RNNStepCache returned by rnn_step_forward; got RNNCache"),
    ("rnn", False, dict(grads=lambda o: [Z((2, 3, 4))]), ValueError,
     "dh must have shape (2, 3, 5) ((N, T, H), the shape of the rnn_forward output it is the gradient of); "
     "got shape (2, 3, 4)"),
    ("rnn", False, dict(grads=lambda o: [Z((2, 5))]), ValueError,
     "dh must be a 3-D array of shape (N, T, H); got shape (2, 5)"),
    ("rnn", False, dict(doctor=_replace(h0=Z((3, 5)))), ValueError,
     "cache is not the one rnn_forward returned: its h0 has shape (3, 5), which disagrees with (N, H) of its other "
     "arrays"),
    ("rnn", False, dict(doctor=_replace(h=Z((2, 4, 5)))), ValueError,
     "cache is not the one rnn_forward returned: its h has shape (2, 4, 5), which disagrees with (N, T, H) of its "
     "other arrays"),
    ("lstm", True, dict(grads=lambda o: [o[0], Z((2, 4))]), ValueError,
     "dnext_c must have shape (2, 5) ((N, H), the shape of the lstm_step_forward output it is the gradient of); "
     "got shape (2, 4)"),
    ("lstm", True, dict(grads=lambda o: [Z((2, 5, 1)), o[1]]), ValueError,
     "dnext_h must be a 2-D array of shape (N, H); got shape (2, 5, 1)"),
    ("lstm", True, dict(grads=lambda o: [o[0], Z((2, 5), complex)]), TypeError,
     "dnext_c must be a real numeric array (float32 or float64, or integers); got dtype complex128 (complex)"),
    ("lstm", True, dict(doctor=_replace(gates=Z((2, 5)))), ValueError,
     "cache is not the one lstm_step_forward returned: its gates has shape (2, 5), which disagrees with (N, 4H) of "
     "its other arrays"),
    ("lstm", True, dict(doctor=_replace(tanh_c=Z((2, 6)))), ValueError,
     "cache is not the one lstm_step_forward returned: its tanh_c has shape (2, 6), which disagrees with (N, H) of "
     "its other arrays"),
    ("lstm", True, dict(doctor=_replace(x=Z((2, 3)))), ValueError,
     "cache is not the one lstm_step_forward returned: its Wx has shape (4, 20), which disagrees with (D, 4H) of "
     "its other arrays"),
    ("lstm", False, dict(grads=lambda o: [Z((2, 3))]), ValueError,
     "dh must be a 3-D array of shape (N, T, H); got shape (2, 3)"),
    ("lstm", False, dict(doctor=_replace(c=Z((2, 3, 1)))), ValueError,
     "cache is not the one lstm_forward returned: its c has shape (2, 3, 1), which disagrees with (N, T, H) of its "
     "other arrays"),
    ("lstm", False, dict(doctor=_replace(gates=Z((2, 3, 21)))), ValueError,
     "cache is not the one lstm_forward returned: its gates has shape (2, 3, 21), which disagrees with (N, T, 4H) of "
     "its other arrays"),
    ("lstm", False, dict(doctor=_replace(c0=Z((2, 5, 1)))), ValueError,
     "cache is not the one lstm_forward returned: its c0 has shape (2, 5, 1), which disagrees with (N, H) of its "
     "other arrays"),
    ("lstm", False, dict(doctor=lambda c: _forward("lstm", True)[2]), TypeError,
     "cache must be the LSTMCache returned by lstm_forward; got LSTMStepCache"),
]


@pytest.mark.parametrize("kind, step, how, exc, message", BACKWARD_ERRORS)
def test_recurrent_backward_bad_input_message_unchanged(kind, step, how, exc, message):
    _backward(kind, step)  # the valid cache's shapes are now remembered as accepted
    with pytest.raises(exc) as info:
        _backward(kind, step, **how)
    assert str(info.value) == message


# --- the fast shape comparison against the detailed checks ------------------------------------


def _random_shapes(rng, g, step, with_c):
    """Shapes of (x, h0, c0, Wx, Wh, b) for random sizes, valid, then with up to three of them edited
    (``c0`` None unless ``with_c``)."""
    n, t, d, h = rng.integers(1, 4, size=4)
    shapes = [(n, d) if step else (n, t, d), (n, h), (n, h) if with_c else None, (d, g * h), (h, g * h), (g * h,)]
    slots = [i for i, s in enumerate(shapes) if s is not None]
    for i in rng.choice(slots, size=rng.integers(0, 4), replace=True):
        s = list(shapes[i])
        change = rng.integers(3)
        if change == 0:  # one size to anything from 0 to 13 (may hit a valid value)
            s[rng.integers(len(s))] = rng.integers(14)
        elif change == 1:
            s.append(rng.integers(1, 3))
        elif len(s) > 1:
            s.pop()
        shapes[i] = tuple(int(e) for e in s)
    return shapes


@pytest.mark.parametrize("kind, step", KINDS)
@pytest.mark.parametrize("with_c", [False, True], ids=["no_c", "c"])
def test_recurrent_shapes_agree_exactly_when_detailed_checks_pass(rng, kind, step, with_c):
    g = RNN_GATES[kind]
    hname, cname = ("prev_h", "prev_c") if step else ("h0", "c0")
    outcomes = set()
    for _ in range(600):
        shapes = _random_shapes(rng, g, step, with_c)
        x, h0, c0, Wx, Wh, b = (None if s is None else np.empty(s) for s in shapes)
        try:
            _check_recurrent_shapes(g, step, hname, cname, x, h0, c0, Wx, Wh, b)
            passes = True
        except ValueError:
            passes = False
        assert _recurrent_shapes_agree(g, step, x, h0, c0, Wx, Wh, b) is passes, shapes
        outcomes.add(passes)
    assert outcomes == {True, False}


# --- doctored caches never reach native code --------------------------------------------------

_CACHE_FIELDS = {
    ("rnn", True): [f.name for f in dataclasses.fields(RNNStepCache)],
    ("rnn", False): [f.name for f in dataclasses.fields(RNNCache)],
    ("lstm", True): [f.name for f in dataclasses.fields(LSTMStepCache)],
    ("lstm", False): [f.name for f in dataclasses.fields(LSTMCache)],
}
_DOCTORED = [(kind, step, field) for (kind, step), fields in _CACHE_FIELDS.items() for field in fields]


def _misshapes(shape):
    """Every shape one edit away from ``shape``: one size + 1, an axis more, an axis fewer."""
    out = [shape[:i] + (shape[i] + 1,) + shape[i + 1:] for i in range(len(shape))]
    return out + [shape + (1,), shape[:-1]]


@pytest.mark.parametrize("kind, step, field", _DOCTORED)
def test_doctored_cache_rejected_before_native_code(monkeypatch, kind, step, field):
    *outs, cache = _forward(kind, step)
    backward = getattr(rnn, _name(kind, step, "backward"))
    backward(*outs, cache)  # accepted, and remembered as accepted
    monkeypatch.setattr(rnn, "_k", _NoKernel())
    for shape in _misshapes(getattr(cache, field).shape):
        doctored = dataclasses.replace(cache, **{field: np.ones(shape)})
        with pytest.raises(ValueError, match=rf"^cache is not the one {_name(kind, step, 'forward')} returned: its "):
            backward(*outs, doctored)


class _LyingShape(np.ndarray):
    """An array reporting another shape than its own: what the shape checks see is not what
    native code would get."""

    @property
    def shape(self):
        return self.claimed


#: The cache fields a backward passes to native code (an LSTM step's next_c only sets the
#: shape of the upstream gradients, which are checked against it).
_KERNEL_FIELDS = [(kind, step, field) for kind, step, field in _DOCTORED if field != "next_c"]


@pytest.mark.parametrize("kind, step, field", _KERNEL_FIELDS)
def test_cache_field_with_lying_shape_rejected_before_native_code(monkeypatch, kind, step, field):
    *outs, cache = _forward(kind, step)
    backward = getattr(rnn, _name(kind, step, "backward"))
    backward(*outs, cache)  # its true shapes accepted, and remembered
    monkeypatch.setattr(rnn, "_k", _NoKernel())
    arr = getattr(cache, field)
    liar = np.ones(arr.shape[:-1] + (arr.shape[-1] - 1,), arr.dtype).view(_LyingShape)
    liar.claimed = arr.shape
    with pytest.raises(ValueError, match=rf"its {field} converts to an array of shape"):
        backward(*outs, dataclasses.replace(cache, **{field: liar}))


@pytest.mark.parametrize("kind, step", KINDS)
@pytest.mark.parametrize("field", ["x", "Wh"])
def test_cache_field_not_an_array_rejected_before_native_code(monkeypatch, kind, step, field):
    *outs, cache = _forward(kind, step)
    backward = getattr(rnn, _name(kind, step, "backward"))
    monkeypatch.setattr(rnn, "_k", _NoKernel())
    with pytest.raises(TypeError, match=rf"its {field} is a list, not a NumPy array"):
        backward(*outs, dataclasses.replace(cache, **{field: getattr(cache, field).tolist()}))


@pytest.mark.parametrize("kind, step", KINDS)
def test_cache_reshaped_in_place_after_acceptance_rejected(monkeypatch, kind, step):
    *outs, cache = _forward(kind, step)
    backward = getattr(rnn, _name(kind, step, "backward"))
    backward(*outs, cache)
    monkeypatch.setattr(rnn, "_k", _NoKernel())
    cache.Wh.shape = (cache.Wh.size,)  # the same array object, now of another shape
    with pytest.raises(ValueError, match="its Wh has shape"):
        backward(*outs, cache)


def test_remembered_cache_shapes_stay_bounded(monkeypatch):
    monkeypatch.setattr(_validation, "_ACCEPTED_CACHE_SHAPES", set())
    monkeypatch.setattr(_validation, "_ACCEPTED_CACHE_SHAPES_MAX", 8)
    for n in range(1, 30):
        cache = RNNStepCache(x=Z((n, D)), prev_h=Z((n, H)), Wx=Z((D, H)), Wh=Z((H, H)), next_h=Z((n, H)))
        _validation._check_recurrent_cache(cache, "rnn_step_forward")
        assert 1 <= len(_validation._ACCEPTED_CACHE_SHAPES) <= 8
    assert ("RNNStepCache", (29, D), (29, H), (D, H), (H, H), (29, H)) in _validation._ACCEPTED_CACHE_SHAPES
    bad = RNNStepCache(x=Z((29, D)), prev_h=Z((29, H)), Wx=Z((D, H)), Wh=Z((H, H)), next_h=Z((28, H)))
    with pytest.raises(ValueError, match="its next_h has shape"):
        _validation._check_recurrent_cache(bad, "rnn_step_forward")


# --- thread count --------------------------------------------------------------------------


@pytest.mark.parametrize("omp_max", [1, 2, 3, 8])
@pytest.mark.parametrize("cpus", [1, 2, 4])
@pytest.mark.parametrize("env", [None, "", "3"], ids=["unset", "empty", "set"])
def test_effective_n_threads_caps_at_cpus_only_without_omp_num_threads(monkeypatch, omp_max, cpus, env):
    monkeypatch.setattr(_threads.openmp_info, "openmp_enabled", lambda: True)
    monkeypatch.setattr(_threads.openmp_info, "max_threads", lambda: omp_max)
    monkeypatch.setattr(_threads, "_cpu_count", lambda: cpus)
    if env is None:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    else:
        monkeypatch.setenv("OMP_NUM_THREADS", env)
    assert effective_n_threads() == (omp_max if env else min(omp_max, cpus))
    assert effective_n_threads(5) == 5


def test_effective_n_threads_follows_every_change(monkeypatch):
    """Nothing is cached: OpenMP's maximum, the CPUs and the environment are read per call."""
    now = {}
    monkeypatch.setattr(_threads.openmp_info, "openmp_enabled", lambda: True)
    monkeypatch.setattr(_threads.openmp_info, "max_threads", lambda: now["omp_max"])
    monkeypatch.setattr(_threads, "_cpu_count", lambda: now["cpus"])
    seen = []
    for omp_max, cpus, env in [(4, 4, None), (4, 2, None), (4, 2, "4"), (4, 2, None), (3, 8, None), (1, 8, None)]:
        now.update(omp_max=omp_max, cpus=cpus)
        if env is None:
            monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
        else:
            monkeypatch.setenv("OMP_NUM_THREADS", env)
        seen.append(effective_n_threads())
    assert seen == [4, 2, 4, 2, 3, 1]


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs os.sched_setaffinity")
def test_effective_n_threads_sees_affinity_changed_at_run_time(monkeypatch):
    """The real affinity mask, read per call (OpenMP's maximum stubbed high, so the build with
    or without OpenMP makes no difference; on one CPU both answers are 1)."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(_threads.openmp_info, "openmp_enabled", lambda: True)
    monkeypatch.setattr(_threads.openmp_info, "max_threads", lambda: _threads.MAX_THREADS)
    before = os.sched_getaffinity(0)
    try:
        os.sched_setaffinity(0, {min(before)})
        assert effective_n_threads() == 1
    finally:
        os.sched_setaffinity(0, before)
    assert effective_n_threads() == len(before)

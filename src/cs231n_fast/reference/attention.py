"""NumPy twin of :mod:`cs231n_fast.ops.attention`: scaled dot-product attention, forward and
backward, with the same names, signatures, validation and cache (``n_threads`` is accepted and
ignored), written to be read. The oracle of ``tests/test_attention.py``.

For one batch element and one head, with queries ``q`` (S, Dh), keys ``k`` (T, Dh) and values
``v`` (T, Dv)::

    s   = scale * q @ k.T  (+ bias)          scores, (S, T); masked entries set to -inf
    p   = softmax(s, axis=-1)                 attention weights, each row sums to 1
    pd  = p * keep / (1 - dropout_p)          attention dropout (train mode only)
    out = pd @ v                              (S, Dv)

and the backward, with ``dout`` the gradient of the loss with respect to ``out``::

    dv  = pd.T @ dout
    dpd = dout @ v.T
    dp  = dpd * keep / (1 - dropout_p)
    ds  = p * (dp - sum(p * dp, axis=-1))     the softmax's Jacobian applied to dp
    dq  = scale * ds @ k
    dk  = scale * ds.T @ q

(``sum(p * dp)`` over a row equals ``sum(dout * out)`` over the same row, the form FlashAttention
uses when it does not keep ``p``.) A row whose keys are all masked has no softmax; here its
weights, its output and its gradients are zeros (PyTorch's ``softmax`` of a row of ``-inf``
gives NaN).
"""

import numpy as np

from ..ops.attention import AttentionCache, _backward_args, _forward_args

__all__ = ["sdpa_forward", "sdpa_backward"]


def _softmax_rows(s):
    """Softmax over the last axis, the row maximum subtracted first (no overflow); rows that
    are entirely -inf (fully masked) give zeros instead of NaN."""
    m = s.max(axis=-1, keepdims=True, initial=-np.inf)  # no keys (T = 0): a dead row
    dead = m == -np.inf
    e = np.exp(s - np.where(dead, 0, m))  # exp(-inf) = 0: a dead row is all zeros
    total = e.sum(axis=-1, keepdims=True)
    return e / np.where(dead, 1, total)


def _attend(a):
    """``(out, p)`` from validated arguments ``a`` (q, k, v, the additive mask, keep mask and
    scales; see :func:`cs231n_fast.ops.attention._forward_args`)."""
    q, k, v = a.q, a.k, a.v
    s = (q @ k.swapaxes(-1, -2)) * q.dtype.type(a.scale)
    if a.add is not None:
        # -inf marks a masked entry: it stays -inf whatever the score (masked_fill's rule).
        s = np.where(a.add == -np.inf, -np.inf, s + a.add)
    p = _softmax_rows(s)
    pd = p if a.keep is None else p * a.keep * q.dtype.type(a.dropout_scale)
    return pd @ v, p


def sdpa_forward(q, k, v, mask=None, *, bias=None, causal=False, scale=None, dropout_p=0.0,
                 dropout_mask=None, rng=None, n_threads=None):
    """Scaled dot-product attention; same signature and result as
    :func:`cs231n_fast.ops.attention.sdpa_forward` (``n_threads`` is ignored)."""
    a = _forward_args(q, k, v, mask, bias, causal, scale, dropout_p, dropout_mask, rng)
    out, p = _attend(a)
    return out, AttentionCache(a.q, a.k, a.v, p, a.keep, a.scale, a.dropout_scale, out.shape,
                               "sdpa_forward")


def _gradients(dout, q, k, v, p, keep, scale, dropout_scale):
    """``(dq, dk, dv)`` from the forward's inputs, weights ``p`` and keep mask (or None)."""
    if keep is None:
        pd = p
        dp = dout @ v.swapaxes(-1, -2)
    else:
        d = keep.astype(p.dtype) * p.dtype.type(dropout_scale)
        pd = p * d
        dp = (dout @ v.swapaxes(-1, -2)) * d
    dv = pd.swapaxes(-1, -2) @ dout
    ds = p * (dp - (p * dp).sum(axis=-1, keepdims=True))
    dq = (ds @ k) * p.dtype.type(scale)
    dk = (ds.swapaxes(-1, -2) @ q) * p.dtype.type(scale)
    return dq, dk, dv


def sdpa_backward(dout, cache, *, n_threads=None):
    """Gradients ``(dq, dk, dv)`` of :func:`sdpa_forward`; same signature and result as
    :func:`cs231n_fast.ops.attention.sdpa_backward` (``n_threads`` is ignored)."""
    dout, q, k, v, p, keep = _backward_args(dout, cache)
    return _gradients(dout, q, k, v, p, keep, cache.scale, cache.dropout_scale)

"""Write every kernel's results on fixed inputs to an .npz, or compare two such files bitwise.

CI runs it in the OpenMP build and in the OpenMP-free build: the results must be identical.
"""

import sys

import numpy as np


def fingerprint():
    from cs231n_fast import knn, ops

    rng = np.random.default_rng(20261123)
    out = {}
    for dtype in (np.float32, np.float64):
        name = np.dtype(dtype).name
        for i, (xs, ws, s, p) in enumerate([((9, 5, 13, 11), (7, 5, 3, 2), 1, 1), ((4, 3, 17, 16), (6, 3, 5, 5), 2, (2, 1))]):
            x = rng.standard_normal(xs).astype(dtype)
            w = rng.standard_normal(ws).astype(dtype)
            b = rng.standard_normal(ws[0]).astype(dtype)
            y, cache = ops.conv_forward(x, w, b, s, p)
            dx, dw, db = ops.conv_backward(rng.standard_normal(y.shape).astype(dtype), cache)
            cols = ops.im2col(x, ws[2], ws[3], s, p)
            back = ops.col2im(cols, xs, ws[2], ws[3], s, p)
            out.update({f"conv{i}_{name}_{k}": v for k, v in dict(y=y, dx=dx, dw=dw, db=db, cols=cols, back=back).items()})
        for i, (ph, pw, s) in enumerate([(2, 2, 2), (3, 3, 2), (2, 3, 1)]):
            x = np.round(rng.standard_normal((6, 5, 16, 15)), 1).astype(dtype)
            y, cache = ops.maxpool_forward(x, ph, pw, s)
            dx = ops.maxpool_backward(rng.standard_normal(y.shape).astype(dtype), cache)
            out.update({f"pool{i}_{name}_y": y, f"pool{i}_{name}_dx": dx, f"pool{i}_{name}_arg": cache.argmax})
        xq = rng.standard_normal((37, 101)).astype(dtype)
        xt = rng.standard_normal((900, 101)).astype(dtype)
        for metric in ("l1", "l2"):
            dist, idx = knn.kneighbors(xq, xt, 9, metric, working_memory=0.1)
            out.update({f"knn_{metric}_{name}_d": dist, f"knn_{metric}_{name}_i": idx})
        out[f"l1_{name}"] = knn.pairwise_distances(xq, xt, "l1")
        from cs231n_fast.ops import rnn

        n, t, d, h = 5, 4, 19, 37  # ragged against every vector width
        x = rng.standard_normal((n, t, d)).astype(dtype)
        h0 = rng.standard_normal((n, h)).astype(dtype)
        for kind, g in (("rnn", 1), ("lstm", 4)):
            wx = (rng.standard_normal((d, g * h)) / 3).astype(dtype)
            wh = (rng.standard_normal((h, g * h)) / 3).astype(dtype)
            b = rng.standard_normal(g * h).astype(dtype)
            fwd, bwd = getattr(rnn, f"{kind}_forward"), getattr(rnn, f"{kind}_backward")
            y, cache = fwd(x, h0, wx, wh, b)
            grads = bwd(rng.standard_normal(y.shape).astype(dtype), cache)
            out.update({f"{kind}_{name}_{i}": v for i, v in enumerate((y,) + tuple(grads))})
        # Sequences wide enough for two threads (H >= 512) take the packed recurrent product
        # (rnn_gemm.h) in float32; H = 517 leaves a partial panel, N = 3 partial row tiles.
        n, t, d, h = 3, 3, 11, 517
        x = rng.standard_normal((n, t, d)).astype(dtype)
        h0 = rng.standard_normal((n, h)).astype(dtype)
        for kind, g in (("rnn", 1), ("lstm", 4)):
            wx = (rng.standard_normal((d, g * h)) / 3).astype(dtype)
            wh = (rng.standard_normal((h, g * h)) / 23).astype(dtype)
            b = rng.standard_normal(g * h).astype(dtype)
            fwd, bwd = getattr(rnn, f"{kind}_forward"), getattr(rnn, f"{kind}_backward")
            y, cache = fwd(x, h0, wx, wh, b)
            grads = bwd(rng.standard_normal(y.shape).astype(dtype), cache)
            out.update({f"{kind}_wide_{name}_{i}": v for i, v in enumerate((y,) + tuple(grads))})
        z = np.concatenate([np.linspace(-120, 120, 2001), [0.0, -0.0, np.inf, -np.inf]]).astype(dtype)
        out[f"sigmoid_{name}"] = rnn.sigmoid(z)
    return out


def main(argv):
    if argv[:1] == ["--compare"]:
        a, b = np.load(argv[1]), np.load(argv[2])
        assert sorted(a.files) == sorted(b.files), "different result sets"
        for k in a.files:
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)
        print(f"fingerprint: {len(a.files)} results bitwise identical")
        return
    np.savez(argv[0], **fingerprint())


if __name__ == "__main__":
    main(sys.argv[1:])

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
        # Winograd F(2x2, 3x3): the default for 3x3 stride-1 layers with >= 16 channels (odd
        # sizes, several image blocks and dw chunks), and forced on a small odd one; need_dx=False.
        from cs231n_fast.ops import conv as conv_ops

        for i, (xs, f, p, algo) in enumerate([((37, 16, 9, 7), 17, 1, None), ((3, 5, 6, 7), 4, (2, 0), "winograd")]):
            x = rng.standard_normal(xs).astype(dtype)
            w = rng.standard_normal((f, xs[1], 3, 3)).astype(dtype)
            b = rng.standard_normal(f).astype(dtype)
            conv_ops._ALGO = algo
            try:
                y, cache = ops.conv_forward(x, w, b, 1, p)
                d = rng.standard_normal(y.shape).astype(dtype)
                dx, dw, db = ops.conv_backward(d, cache)
                _, dw2, db2 = ops.conv_backward(d, cache, need_dx=False)
            finally:
                conv_ops._ALGO = None
            out.update({f"conv_wino{i}_{name}_{k}": v for k, v in dict(y=y, dx=dx, dw=dw, db=db, dw2=dw2, db2=db2).items()})
        rt = np.random.default_rng(17)  # transposed convolution (its own stream: other keys unchanged)
        x, w, b = (rt.standard_normal(sh).astype(dtype) for sh in ((13, 8, 5, 4), (8, 6, 4, 3), (6,)))
        y, cache = ops.conv_transpose_forward(x, w, b, 2, 1, 1)
        dx, dw, db = ops.conv_transpose_backward(rt.standard_normal(y.shape).astype(dtype), cache)
        out.update({f"convT_{name}_{k}": v for k, v in dict(y=y, dx=dx, dw=dw, db=db).items()})
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
        from cs231n_fast.ops import norm

        # Shapes ragged against every vector width and the 16 lanes; (N, D) with D > 64 spans
        # several column blocks.
        for i, shape in enumerate([(37, 150), (5, 7, 9, 11), (3, 4, 1, 1)]):
            c = shape[1]
            x = (3 * rng.standard_normal(shape) + 2).astype(dtype)
            g, b = rng.standard_normal(c).astype(dtype), rng.standard_normal(c).astype(dtype)
            rm, rv = rng.standard_normal(c).astype(dtype), rng.uniform(0.5, 2, c).astype(dtype)
            fwd = norm.batchnorm_forward if len(shape) == 2 else norm.spatial_batchnorm_forward
            bwd = norm.batchnorm_backward if len(shape) == 2 else norm.spatial_batchnorm_backward
            dy = rng.standard_normal(shape).astype(dtype)
            for mode in ("train", "test"):
                y, m, v, cache = fwd(x, g, b, rm, rv, mode=mode, momentum=0.8)
                res = (y, m, v) + tuple(bwd(dy, cache))
                out.update({f"norm_bn{i}_{mode}_{name}_{k}": r for k, r in enumerate(res)})
        x = (2 * rng.standard_normal((13, 83)) - 1).astype(dtype)
        g, b = rng.standard_normal(83).astype(dtype), rng.standard_normal(83).astype(dtype)
        y, cache = norm.layernorm_forward(x, g, b)
        res = (y,) + tuple(norm.layernorm_backward(rng.standard_normal(x.shape).astype(dtype), cache))
        out.update({f"norm_ln_{name}_{k}": r for k, r in enumerate(res)})
        x = (2 * rng.standard_normal((3, 6, 7, 5)) + 1).astype(dtype)
        g, b = rng.standard_normal((1, 6, 1, 1)).astype(dtype), rng.standard_normal((1, 6, 1, 1)).astype(dtype)
        y, cache = norm.spatial_groupnorm_forward(x, g, b, 3)
        res = (y,) + tuple(norm.spatial_groupnorm_backward(rng.standard_normal(x.shape).astype(dtype), cache))
        out.update({f"norm_gn_{name}_{k}": r for k, r in enumerate(res)})

        # optim: the six fused update rules over two chunks and a ragged tail (5 * 8192 - 3)
        from cs231n_fast.ops import optim as opt

        shape = (5, 8191)
        w = rng.standard_normal(shape).astype(dtype)
        dw = rng.standard_normal(shape).astype(dtype)
        vel = rng.standard_normal(shape).astype(dtype)
        cache = np.abs(rng.standard_normal(shape)).astype(dtype)
        out[f"optim_sgd_{name}"] = opt.sgd(w, dw, 0.05)
        for rule in ("sgd_momentum", "nesterov_momentum"):
            for i, v in enumerate(getattr(opt, rule)(w, dw, vel, 0.05, 0.9)):
                out[f"optim_{rule}_{name}_{i}"] = v
        for i, v in enumerate(opt.adagrad(w, dw, cache, 0.05, 1e-8)):
            out[f"optim_adagrad_{name}_{i}"] = v
        for i, v in enumerate(opt.rmsprop(w, dw, cache, 0.05, 0.99, 1e-8)):
            out[f"optim_rmsprop_{name}_{i}"] = v
        for i, v in enumerate(opt.adam(w, dw, vel, cache, 7, 1e-3, 0.9, 0.999, 1e-8)):
            out[f"optim_adam_{name}_{i}"] = v
        out[f"optim_sumsq_{name}"] = np.array(opt.sum_of_squares(w))

        from cs231n_fast.ops import activations as act

        # ragged sizes (tails of every vector width, two chunks and a tail) and special values
        xa = np.concatenate([rng.standard_normal(2 * 16384 + 13) * 4, np.linspace(-120, 120, 2001),
                             -np.logspace(-12, 1, 301), [0.0, -0.0, np.inf, -np.inf, np.nan]]).astype(dtype)
        da = rng.standard_normal(xa.shape).astype(dtype)
        with np.errstate(all="ignore"):
            for op, args in (("relu", ()), ("leaky_relu", (0.1,)), ("elu", (1.3,)), ("sigmoid", ()), ("tanh", ())):
                y, cache = getattr(act, f"{op}_forward")(xa, *args)
                out[f"activations_{op}_{name}_y"] = y
                out[f"activations_{op}_{name}_dx"] = getattr(act, f"{op}_backward")(da, cache)
            x4 = xa[: 6 * 5 * 1093].reshape(6, 5, 1093)
            for tag, alpha in (("scalar", np.array(0.2)), ("channel", np.linspace(0.1, 0.5, 5))):
                y, cache = act.prelu_forward(x4, alpha.astype(dtype))
                dx, dalpha = act.prelu_backward(da[: x4.size].reshape(x4.shape), cache)
                out.update({f"activations_prelu_{tag}_{name}_{k}": v for k, v in dict(y=y, dx=dx, da=dalpha).items()})
            y, cache = act.dropout_forward(xa, 0.37, "train", 2026)
            out[f"activations_dropout_{name}_y"] = y
            out[f"activations_dropout_{name}_dx"] = act.dropout_backward(da, cache)
            xm = rng.standard_normal((9, 23)).astype(dtype)
            wm = rng.standard_normal((3, 23, 37)).astype(dtype)
            bm = np.round(rng.standard_normal((3, 37)), 1).astype(dtype)
            y, cache = act.maxout_forward(xm, wm, bm)
            grads = act.maxout_backward(rng.standard_normal(y.shape).astype(dtype), cache)
            out[f"activations_maxout_{name}_piece"] = cache.saved["piece"]
            out.update({f"activations_maxout_{name}_{i}": v for i, v in enumerate((y,) + grads)})

    # linear family: affine (+ fused ReLU) forward/backward, with and without dx, the fused L2
    # term, the standalone L2 pass; shapes ragged against the vector widths and several blocks.
    from cs231n_fast.ops import linear

    lrng = np.random.default_rng(20261206)
    for dtype in (np.float32, np.float64):
        name = np.dtype(dtype).name
        for i, (n, d, m) in enumerate([(7, 13, 5), (67, 301, 259), (150, 129, 77)]):
            x = lrng.standard_normal((n, d)).astype(dtype)
            w = lrng.standard_normal((d, m)).astype(dtype)
            b = lrng.standard_normal(m).astype(dtype)
            dout = lrng.standard_normal((n, m)).astype(dtype)
            y, cache = linear.affine_forward(x, w, b)
            yr, cache_r = linear.affine_relu_forward(x, w, b)
            res = dict(y=y, yr=yr)
            res.update(zip(("dx", "dw", "db"), linear.affine_backward(dout, cache)))
            res.update(zip(("rdx", "rdw", "rdb"), linear.affine_relu_backward(dout, cache_r)))
            _, dw2, db2, pen = linear.affine_backward_l2(dout, cache_r, 0.3, need_dx=False)
            pen_s, g = linear.l2_penalty(w, dw2, 0.7)
            res.update(ldw=dw2, ldb=db2, pen=np.array([pen, pen_s]), g=g)
            out.update({f"linear{i}_{name}_{k}": v for k, v in res.items()})
    out.update(_losses_fingerprint(np.random.default_rng(20261206)))
    out.update(_features_fingerprint(np.random.default_rng(20261215)))
    out.update(_attention_fingerprint(np.random.default_rng(20261207)))
    out.update(_detection_fingerprint(np.random.default_rng(20261207)))
    return out


def _detection_fingerprint(rng):
    """detection: box_iou (rows threaded: 97 x 131 boxes; zero-area and duplicate boxes), nms
    and batched_nms (classes threaded) on clustered boxes with tied scores."""
    from cs231n_fast import detection

    out = {}
    for dtype in (np.float32, np.float64):
        name = np.dtype(dtype).name
        c = rng.uniform(0, 100, (12, 2))[rng.integers(0, 12, 600)] + rng.normal(0, 3, (600, 2))
        wh = rng.uniform(5, 20, (600, 2))
        b = np.hstack([c - wh / 2, c + wh / 2]).astype(dtype)
        b[::17, 2:] = b[::17, :2]  # zero-area boxes
        b[1::23] = b[0]  # duplicates
        s = (np.round(rng.random(600) * 8) / 8).astype(dtype)  # ties
        with np.errstate(all="ignore"):
            out[f"detection_iou_{name}"] = detection.box_iou(b[:97], b[200:331])
        for thr in (0.3, 0.7):
            out[f"detection_nms_{thr}_{name}"] = detection.nms(b, s, thr)
            out[f"detection_batched_{thr}_{name}"] = detection.batched_nms(b, s, rng.integers(0, 5, 600), thr)
    return out


def _features_fingerprint(rng):
    """features: HOG and hue histograms of odd image sizes, flat regions (the atan2 path),
    grayscale and RGBA batches, uint8/float32/float64 pixels, several bin settings, and an
    image with an infinite magnitude (the twin's recomputation)."""
    from cs231n_fast.ops import features

    out = {}
    for i, (n, h, w) in enumerate([(40, 32, 32), (5, 36, 33), (3, 9, 12), (2, 5, 7)]):  # 40: threaded
        x = rng.integers(0, 256, (n, h, w, 3)).astype(np.float64)
        x[: n // 2, 2 : h // 2] = x[: n // 2, 2 : 3]  # flat columns: gy == 0 rows, gx == 0
        x[n // 2 :, :, 3 : w // 2] = x[n // 2 :, :, 3:4]
        for dt in (np.uint8, np.float32, np.float64):
            xd = x.astype(dt)
            name = np.dtype(dt).name
            out[f"features_hog{i}_{name}"] = features.hog_features(xd)
            out[f"features_hsv{i}_{name}"] = features.color_histograms_hsv(xd)
            out[f"features_hsv{i}_{name}_7"] = features.color_histograms_hsv(xd, 7, 20, 255.5, False)
    g = rng.random((4, 17, 16)) * 255
    out["features_hog_gray"] = features.hog_features(g)
    out["features_hog_rgba"] = features.hog_features(rng.random((3, 16, 17, 4)))
    big = rng.random((2, 16, 16, 3))
    big[1, 3, 3] = 1e308  # an infinite magnitude: recomputed by the twin
    with np.errstate(all="ignore"):
        out["features_hog_inf"] = features.hog_features(big)
    return out


def _losses_fingerprint(rng):
    """losses (softmax/SVM, temporal softmax) and embedding kernels: ragged widths against every
    vector width and lane count, extreme, infinite and NaN scores, masked rows, repeated ids."""
    from cs231n_fast.ops import losses, temporal

    out = {}
    for dtype in (np.float32, np.float64):
        name = np.dtype(dtype).name
        for c in (1, 5, 16, 203):
            x = rng.standard_normal((23, c)) * 4
            x[1, 0] = 1e4
            x[2, -1] = -1e4
            x[3] = np.round(x[3])  # ties, exact zeros
            x[4, c // 2] = np.inf
            x[5, c - 1] = np.nan
            x[6, 0] = -np.inf
            x = x.astype(dtype)
            y = rng.integers(0, c, 23)
            for kind in ("softmax", "svm"):
                loss, dx = getattr(losses, f"{kind}_loss")(x, y)
                out[f"losses_{kind}_{c}_{name}_loss"] = np.float64(loss)
                out[f"losses_{kind}_{c}_{name}_dx"] = dx
                loss, _ = getattr(losses, f"{kind}_loss")(x[7:], y[7:])  # the finite rows
                out[f"losses_{kind}_{c}_{name}_finite_loss"] = np.float64(loss)
        s = (rng.standard_normal((7, 9, 131)) * 3).astype(dtype)
        ids = rng.integers(0, 131, (7, 9))
        mask = rng.random((7, 9)) < 0.7
        loss, dx = temporal.temporal_softmax_loss(s, ids, mask)
        out[f"losses_temporal_{name}_loss"] = np.float64(loss)
        out[f"losses_temporal_{name}_dx"] = dx
        for v, d in ((13, 7), (50, 301)):
            W = rng.standard_normal((v, d)).astype(dtype)
            ids = rng.integers(0, v, (9, 11))
            ids[0] = 3  # a frequent word
            emb, cache = temporal.word_embedding_forward(ids, W)
            dW = temporal.word_embedding_backward(rng.standard_normal(emb.shape).astype(dtype), cache)
            out[f"embedding_{v}x{d}_{name}_out"] = emb
            out[f"embedding_{v}x{d}_{name}_dW"] = dW
    return out


def _attention_fingerprint(rng):
    """attention: scaled dot-product attention forward/backward, plain, masked + causal with a
    fully masked row, additive bias and dropout; rows ragged against the vector widths."""
    from cs231n_fast.ops import attention

    out = {}
    for dtype in (np.float32, np.float64):
        name = np.dtype(dtype).name
        for i, (n, h, s, t, dh, dv) in enumerate([(2, 3, 5, 7, 6, 4), (3, 2, 16, 37, 64, 19)]):
            q = rng.standard_normal((n, h, s, dh)).astype(dtype)
            k = rng.standard_normal((n, h, t, dh)).astype(dtype)
            v = rng.standard_normal((n, h, t, dv)).astype(dtype)
            dout = rng.standard_normal((n, h, s, dv)).astype(dtype)
            mask = rng.random((s, t)) > 0.3
            mask[1] = False
            for opt, kw in (("plain", {}), ("mask", dict(mask=mask, causal=True)),
                            ("bias", dict(bias=rng.standard_normal((h, s, t)).astype(dtype))),
                            ("dropout", dict(dropout_p=0.25, rng=i))):
                y, cache = attention.sdpa_forward(q, k, v, **kw)
                grads = attention.sdpa_backward(dout, cache)
                res = dict(zip(("y", "p", "dq", "dk", "dv"), (y, cache.p) + grads))
                out.update({f"attention{i}_{opt}_{name}_{key}": a for key, a in res.items()})
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

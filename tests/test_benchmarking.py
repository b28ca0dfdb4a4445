"""Benchmark cases, checks and figures of ``cs231n_fast.benchmarking`` (no timing asserted)."""

import numpy as np
import pytest

from cs231n_fast import benchmarking as bm

#: Tiny LSTM stand-ins: one step and a three-step sequence.
STEP = bm.LstmCase(3, 5, 4)
SEQ = bm.LstmCase(3, 5, 4, t=3)


def _oracle(case):
    return bm.reference_result(case, bm.make_inputs(case, "float64"))


def _as_torch_layout(case, outputs):
    """Course-layout LSTM results as torch returns them (gate rows i, f, g, o; transposed
    weight gradients; a layer axis on dh0 for a sequence)."""
    *states, dh0, dWx, dWh, db = outputs
    order = np.r_[0 : 2 * case.h, 3 * case.h : 4 * case.h, 2 * case.h : 3 * case.h]
    if not case.step:
        dh0 = dh0[None]
    return (*states, dh0, dWx.T[order], dWh.T[order], db[order])


def test_lstm_case_flops_counts_the_products():
    n, d, h, t = 64, 256, 512, 16
    step, seq = bm.LstmCase(n, d, h), bm.LstmCase(n, d, h, t=t)
    assert step.flops() == 2 * n * (d + h) * 4 * h * 3
    assert seq.flops() == t * step.flops()
    assert step.gemm_flops() == step.flops()
    assert step.work("float32") == {"flops": step.flops()}


def test_lstm_case_impls_floor_only_for_a_step():
    assert STEP.impls == ("fast", "reference", "six_matmuls", "torch")
    assert "six_matmuls" not in SEQ.impls
    assert STEP.id != SEQ.id and STEP.id.startswith("lstm-step")


def test_get_cases_quick_lstm_subset():
    quick = bm.get_cases(("lstm",), quick=True)
    assert {(c.step, c.t) for c in quick} == {(True, None), (False, 16)}
    assert all(c.quick_dtypes == ("float32",) for c in quick)
    assert "lstm" in bm.KERNELS and set(bm.CASES) == set(bm.KERNELS)


def test_gemm_flops_only_for_gemm_bound_cases():
    conv, pool = bm.CONV_CASES[0], bm.POOL_CASES[0]
    l2 = bm.KnnCase("pairwise", "l2", n_train=7, n_query=3, d=5)
    l1 = bm.KnnCase("pairwise", "l1", n_train=7, n_query=3, d=5)
    assert conv.gemm_flops() == conv.flops() > 0
    assert pool.gemm_flops() is None
    assert l2.gemm_flops() == 2 * 3 * 7 * 5
    assert l1.gemm_flops() is None


@pytest.mark.parametrize("case", [STEP, SEQ], ids=["step", "seq"])
def test_make_inputs_lstm_same_values_in_both_dtypes(case):
    f32, f64 = bm.make_inputs(case, "float32"), bm.make_inputs(case, "float64")
    steps = () if case.step else (case.t,)
    shapes = {"x": (3, *steps, 5), "h0": (3, 4), "c0": (3, 4), "Wx": (5, 16), "Wh": (4, 16),
              "b": (16,), "dh": (3, *steps, 4)}
    if case.step:
        shapes["dc"] = (3, 4)
    assert {k: a.shape for k, a in f32.items()} == shapes
    for k in shapes:
        assert f32[k].dtype == np.float32 and f64[k].dtype == np.float64
        np.testing.assert_array_equal(f32[k].astype(np.float64), f64[k])


@pytest.mark.parametrize("dtype", bm.DTYPES)
@pytest.mark.parametrize("case", [STEP, SEQ], ids=["step", "seq"])
def test_check_result_lstm_ours_and_reference_pass(case, dtype):
    expected = _oracle(case)
    inputs = bm.make_inputs(case, dtype)
    for impl in ("fast", "reference"):
        ok, err, message = bm.check_result(
            case, bm.make_runner(case, impl, inputs, 1)(), expected, dtype, impl=impl
        )
        assert ok, (impl, message)
        assert 0 <= err <= bm.RTOL[dtype]


@pytest.mark.parametrize("case", [STEP, SEQ], ids=["step", "seq"])
def test_check_result_lstm_detects_a_wrong_output(case, rng):
    expected = _oracle(case)
    outputs = list(bm.make_runner(case, "fast", bm.make_inputs(case, "float64"), 1)())
    k = bm.output_names(case).index("dWx")
    outputs[k] = outputs[k] + 1e-3 * rng.standard_normal(outputs[k].shape)
    ok, err, message = bm.check_result(case, outputs, expected, "float64", impl="fast")
    assert not ok
    assert "dWx" in message and err > bm.RTOL["float64"]


@pytest.mark.parametrize("case", [STEP, SEQ], ids=["step", "seq"])
def test_check_result_lstm_maps_torch_layout(case):
    """torch's gate order and weight layout are mapped back before the comparison."""
    expected = _oracle(case)
    ours = bm.make_runner(case, "fast", bm.make_inputs(case, "float64"), 1)()
    ok, _, message = bm.check_result(case, _as_torch_layout(case, ours), expected, "float64",
                                     impl="torch")
    assert ok, message
    # The same arrays unmapped, taken for torch's, must fail: the mapping is not a no-op.
    *states, dh0, dWx, dWh, db = ours
    unmapped = (*states, dh0 if case.step else dh0[None], dWx.T, dWh.T, db)
    assert not bm.check_result(case, unmapped, expected, "float64", impl="torch")[0]


def test_check_result_six_matmuls_checks_shapes_dtype_and_finiteness():
    inputs = bm.make_inputs(STEP, "float32")
    products = bm.make_runner(STEP, "six_matmuls", inputs, 1)()
    ok, err, message = bm.check_result(STEP, products, None, "float32", impl="six_matmuls")
    assert ok, message
    assert np.isnan(err)
    as64 = tuple(p.astype(np.float64) for p in products)
    ok, _, message = bm.check_result(STEP, as64, None, "float32", impl="six_matmuls")
    assert not ok and "dtype" in message
    broken = (products[0][:, :-1],) + products[1:]
    ok, _, message = bm.check_result(STEP, broken, None, "float32", impl="six_matmuls")
    assert not ok and "shape" in message
    nan = (np.full_like(products[0], np.nan),) + products[1:]
    ok, _, message = bm.check_result(STEP, nan, None, "float32", impl="six_matmuls")
    assert not ok and "finite" in message


def test_gemm_peaks_records(monkeypatch):
    monkeypatch.setattr(bm, "GEMM_PEAK_SHAPE", (64, 48, 32))
    peaks = bm.gemm_peaks(("float32", "float64"), n_threads=1, repeat=2)
    assert set(peaks) == {"float32", "float64"}
    for dtype, peak in peaks.items():
        assert peak["dtype"] == dtype
        assert peak["shape"] == [64, 48, 32]
        assert peak["n_threads"] == 1 and peak["repeats"] == 2
        assert peak["gflops"] == pytest.approx(2 * 64 * 48 * 32 / peak["median_ms"] / 1e6)
        assert peak["gflops"] > 0


def test_run_lstm_reports_gemm_share_and_floor(monkeypatch):
    monkeypatch.setitem(bm.CASES, "lstm", (bm.LstmCase(3, 5, 4, quick=True),))
    monkeypatch.setattr(bm, "GEMM_PEAK_SHAPE", (64, 64, 64))
    given = {"float32": {"gflops": 2.0}}  # a made-up peak: must be used, not re-measured
    results = bm.run(quick=True, kernels=("lstm",), impls=("fast", "reference", "six_matmuls"),
                     repeat=1, n_threads=1, gemm_peaks=given)
    assert [(r["case"], r["dtype"]) for r in results] == [(STEP.id, "float32")]
    (r,) = results
    assert given == {"float32": {"gflops": 2.0}}
    assert r["gemm_peak_gflops"] == 2.0
    fast = r["impls"]["fast"]
    assert {e["status"] for e in r["impls"].values()} == {"ok"}
    assert r["gflops"] == pytest.approx(STEP.flops() / fast["median_ms"] / 1e6)
    assert r["blas_peak_share"] == pytest.approx(r["gflops"] / 2.0)
    floor = r["impls"]["six_matmuls"]
    assert floor["blas_peak_share"] == pytest.approx(floor["gflops"] / 2.0)
    # The ratio to the floor is the paired one (settled rounds), the separate medians' is kept.
    assert r["unpaired_ratio_vs_floor"] == pytest.approx(fast["median_ms"] / floor["median_ms"])
    paired = r["paired_ratios"]["six_matmuls"]
    assert set(r["paired_ratios"]) == {"six_matmuls"} and paired["rounds"] == 1
    assert r["ratio_vs_floor"] == paired["median"] > 0

    measured = {}
    (r64,) = bm.run(quick=False, dtypes=("float64",), kernels=("lstm",), impls=("fast",),
                    repeat=1, n_threads=1, gemm_peaks=measured)
    assert set(measured) == {"float64"} and measured["float64"]["shape"] == [64, 64, 64]
    assert r64["gemm_peak_gflops"] == measured["float64"]["gflops"] > 0

    table = bm.format_table(results)
    for text in ("% peak", "ours/peer", "BLAS GEMM peak", "float32 2.0 GFLOP/s",
                 f"floor of {STEP.id} float32", f"paired {STEP.id} float32: ours/six_matmuls"):
        assert text in table


def test_settled_rounds_rotate_settle_and_pair():
    clock = {"t": 0.0}
    log = []

    def fake(name, cost):
        def call():
            log.append(name)
            clock["t"] += cost
        return call

    rounds = bm.SettledRounds(rounds=3, calls=3, settle=0.0)
    real = bm.time.perf_counter
    bm.time.perf_counter = lambda: clock["t"]
    try:
        times = rounds({"fast": fake("fast", 2.0), "peer": fake("peer", 4.0)})
    finally:
        bm.time.perf_counter = real
    assert times == {"fast": [2.0] * 3, "peer": [4.0] * 3}
    # Round r starts with implementation r mod 2; each makes its 3 calls in a row.
    assert log == ["fast"] * 3 + ["peer"] * 3 + ["peer"] * 3 + ["fast"] * 3 + ["fast"] * 3 + ["peer"] * 3
    ratios = bm.paired_ratios({"fast": [1.0, 2.0, 3.0], "peer": [2.0, 2.0, 2.0], "zero": [0.0, 0.0, 0.0]})
    assert ratios == {"peer": {"median": 1.0, "min": 0.5, "max": 1.5, "mad": 0.5, "rounds": 3}}


def test_format_lists_settled_rounds_for_lstm_rows_only():
    lstm = {"kernel": "lstm", "case": STEP.id, "dtype": "float32", "n_threads": 2,
            "impls": {}, "rate": None, "speedup_vs_reference": None, "peer": "torch",
            "paired_ratios": {"torch": {"median": 0.5, "min": 0.4, "max": 0.6, "mad": 0.1, "rounds": 3}}}
    knn = dict(lstm, kernel="knn", case="knn-x", peer="sklearn", ratios_vs_peers={},
               paired_ratios={"sklearn": {"median": 0.3, "min": 0.3, "max": 0.3, "mad": 0.0, "rounds": 2}})
    text = "\n".join(bm._format_summary([lstm, knn]))
    assert f"paired {STEP.id} float32: ours/torch median 0.500 (range 0.400-0.600, 3 settled rounds)" in text
    assert "paired knn-x" not in text


def test_settled_rounds_settle_before_timing():
    calls = []
    start = bm.time.perf_counter()
    times = bm.SettledRounds(rounds=1, calls=2, settle=0.05)({"a": lambda: calls.append(1)})
    assert len(times["a"]) == 1
    assert len(calls) > 2 and bm.time.perf_counter() - start >= 0.05  # untimed calls first
    quick, full, smoke = bm.lstm_rounds(True), bm.lstm_rounds(False), bm.lstm_rounds(False, repeat=2)
    assert quick.settle == full.settle == bm.SETTLE_SECONDS and quick.rounds < full.rounds
    assert (smoke.rounds, smoke.calls, smoke.settle) == (2, 1, 0.0)


def test_run_pool_measures_no_gemm_peak(monkeypatch):
    monkeypatch.setitem(bm.CASES, "pool", (bm.PoolCase(1, 2, 4, 4, 2, 2, 2, quick=True),))
    peaks = {}
    (r,) = bm.run(kernels=("pool",), dtypes=("float32",), impls=("fast", "reference"),
                  repeat=1, n_threads=1, gemm_peaks=peaks)
    assert peaks == {}
    assert r["gemm_peak_gflops"] is None and "blas_peak_share" not in r
    assert r["rate"]["unit"] == "GB/s"


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: bm.run(dtypes=("float16",)), "dtypes"),
        (lambda: bm.run(impls=("jax",)), "impls"),
        (lambda: bm.get_cases(("nope",)), "kernels"),
        (lambda: bm.LstmCase(2, 3, 4, t=0), "t must"),
        (lambda: bm.make_runner(STEP, "scipy", bm.make_inputs(STEP, "float32"), 1), "impl"),
        (lambda: bm.make_runner(SEQ, "six_matmuls", bm.make_inputs(SEQ, "float32"), 1),
         "impl"),
    ],
    ids=["dtype", "impl", "kernel", "lstm-t", "lstm-peer", "floor-of-sequence"],
)
def test_benchmarking_bad_input_raises(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --- the package split --------------------------------------------------------------------------


def test_benchmarking_reexports_the_bench_package_and_forwards_assignments(monkeypatch):
    from cs231n_fast import bench
    from cs231n_fast.bench import machine, report

    for name in bench.__all__:
        assert getattr(bm, name) is getattr(bench, name), name
    monkeypatch.setattr(bm, "GEMM_PEAK_SHAPE", (8, 8, 8))
    # The modules that read the name see the new value (as when it was all one module).
    assert machine.GEMM_PEAK_SHAPE == report.machine.GEMM_PEAK_SHAPE == (8, 8, 8)
    monkeypatch.undo()
    assert machine.GEMM_PEAK_SHAPE == bm.GEMM_PEAK_SHAPE == (1024, 1024, 1024)


def test_layers_and_models_are_opt_in_families():
    assert set(bm.KERNELS) == set(bm.DEFAULT_KERNELS) | {"layers", "models", "features", "detection", "attention"}
    default = bm.get_cases(quick=True)
    assert default and {c.kernel for c in default} <= set(bm.DEFAULT_KERNELS)
    assert {c.op for c in bm.get_cases(("layers",))} == set(bm.LAYER_OPS)
    assert {c.net for c in bm.get_cases(("models",))} == set(bm.MODEL_NETS)
    ids = [c.id for kernel in bm.KERNELS for c in bm.CASES[kernel]]
    assert len(ids) == len(set(ids))


def test_conv_has_the_six_issue14_shapes_paired():
    shapes = {(c.n, c.c, c.f, c.h, c.w, c.kh, c.stride, c.pad) for c in bm.CONV_CASES if c.paired}
    assert shapes == {
        (50, 3, 32, 32, 32, 7, 1, 3), (64, 3, 64, 32, 32, 3, 1, 1), (64, 64, 64, 32, 32, 3, 1, 1),
        (64, 64, 128, 16, 16, 3, 1, 1), (64, 128, 128, 16, 16, 3, 1, 1),
        (64, 32, 64, 16, 16, 3, 1, 1),
    }
    assert all(c.dtypes == bm.DTYPES for c in bm.CONV_CASES)


# --- layers -------------------------------------------------------------------------------------

#: Tiny stand-ins of every layer case (odd sizes).
TINY_LAYERS = (
    bm.LayerCase("relu", (2, 3, 4, 5)),
    bm.LayerCase("spatial_batchnorm", (3, 2, 3, 5)),
    bm.LayerCase("word_embedding", (3, 4, 11, 5)),
    bm.LayerCase("layernorm", (4, 7)),
    bm.LayerCase("adam", (5, 3)),
    bm.LayerCase("softmax_loss", (6, 5)),
    bm.LayerCase("batchnorm", (5, 7)),
    bm.LayerCase("affine", (3, 7, 4)),
    bm.LayerCase("temporal", (3, 4, 5, 9)),
)


def _perturbed(outputs, k, rng):
    """``outputs`` with output ``k`` off by 1% of its largest magnitude at one random element
    (its dtype kept)."""
    outputs = list(outputs)
    a = np.array(np.asarray(outputs[k]))
    i = rng.integers(a.size)
    a.flat[i] += 1e-2 * max(float(np.max(np.abs(a))), 1e-3)
    outputs[k] = a
    return outputs


@pytest.mark.parametrize("case", TINY_LAYERS, ids=lambda c: c.op)
def test_make_inputs_layers_same_values_in_both_dtypes(case):
    f32, f64 = bm.make_inputs(case, "float32"), bm.make_inputs(case, "float64")
    assert set(f32) == set(f64)
    for k in f32:
        if f32[k].dtype.kind == "f":
            assert f32[k].dtype == np.float32 and f64[k].dtype == np.float64
            np.testing.assert_array_equal(f32[k].astype(np.float64), f64[k])
        else:
            np.testing.assert_array_equal(f32[k], f64[k])


@pytest.mark.parametrize("dtype", bm.DTYPES)
@pytest.mark.parametrize("case", TINY_LAYERS, ids=lambda c: c.op)
def test_check_result_layers_ours_passes_and_a_wrong_output_fails(case, dtype, rng):
    expected = bm.reference_result(case, bm.make_inputs(case, "float64"))
    outputs = bm.make_runner(case, "fast", bm.make_inputs(case, dtype), 1)()
    ok, err, message = bm.check_result(case, outputs, expected, dtype, impl="fast")
    assert ok, message
    assert 0 <= err <= bm.RTOL[dtype]
    names = bm.output_names(case)
    for k, name in enumerate(names):
        ok, err, message = bm.check_result(case, _perturbed(outputs, k, rng), expected, dtype,
                                           impl="fast")
        assert not ok and name in message and err > bm.RTOL[dtype]


@pytest.mark.parametrize("case", TINY_LAYERS, ids=lambda c: c.op)
def test_check_result_layers_torch_agrees_in_float64(case):
    pytest.importorskip("torch")
    inputs = bm.make_inputs(case, "float64")
    expected = bm.reference_result(case, inputs)
    with bm.thread_limits(1, torch=True):
        outputs = bm.make_runner(case, "torch", inputs, 1)()
    ok, err, message = bm.check_result(case, outputs, expected, "float64", impl="torch")
    assert ok and err <= 1e-9, message
    # Ours against torch's float64: the oracle is torch's own result when torch is installed.
    ours = bm.make_runner(case, "fast", inputs, 1)()
    assert bm.check_result(case, ours, expected, "float64", impl="fast")[0]


def test_check_result_layers_maps_torch_weight_layout():
    pytest.importorskip("torch")
    case = TINY_LAYERS[7]  # affine: torch's weight gradient is (out, in)
    inputs = bm.make_inputs(case, "float64")
    expected = bm.reference_result(case, inputs)
    outputs = bm.make_runner(case, "fast", inputs, 1)()
    out, dx, dw, db = outputs
    assert bm.check_result(case, (out, dx, dw.T, db), expected, "float64", impl="torch")[0]
    assert not bm.check_result(case, (out, dx, dw.T, db), expected, "float64", impl="fast")[0]


def test_layers_reference_is_the_twin_with_the_course_signature(monkeypatch):
    from cs231n_fast import reference

    inputs = bm.make_inputs(TINY_LAYERS[0], "float64")
    monkeypatch.delattr(reference, "relu_forward", raising=False)
    with pytest.raises(bm.Unavailable, match="relu_forward"):
        bm.make_runner(TINY_LAYERS[0], "reference", inputs, 1)
    monkeypatch.setattr(reference, "relu_forward", lambda x, alpha: None, raising=False)
    monkeypatch.setattr(reference, "relu_backward", lambda dout, cache: None, raising=False)
    with pytest.raises(bm.Unavailable, match="signature"):
        bm.make_runner(TINY_LAYERS[0], "reference", inputs, 1)
    calls = []

    def relu_forward(x):
        calls.append("forward")
        return np.maximum(x, 0), x

    def relu_backward(dout, cache):
        return dout * (cache > 0)

    monkeypatch.setattr(reference, "relu_forward", relu_forward)
    monkeypatch.setattr(reference, "relu_backward", relu_backward)
    outputs = bm.make_runner(TINY_LAYERS[0], "reference", inputs, 1)()
    assert calls == ["forward"]
    expected = bm.reference_result(TINY_LAYERS[0], inputs)
    assert bm.check_result(TINY_LAYERS[0], outputs, expected, "float64", impl="reference")[0]
    # The word embedding's twin exists today, with the course's signature.
    case = TINY_LAYERS[2]
    inputs = bm.make_inputs(case, "float32")
    outputs = bm.make_runner(case, "reference", inputs, 1)()
    assert bm.check_result(case, outputs, bm.reference_result(case, inputs), "float32")[0]


# --- models -------------------------------------------------------------------------------------

#: The networks shrunk, at batch 3.
TINY_MODELS = tuple(bm.ModelCase(net, 3, dtypes=bm.DTYPES, tiny=True) for net in bm.MODEL_NETS)


@pytest.mark.parametrize("case", TINY_MODELS, ids=lambda c: c.net)
def test_check_result_models_ours_passes_and_a_wrong_gradient_fails(case, rng):
    inputs = bm.make_inputs(case, "float64")
    expected = bm.reference_result(case, inputs)
    names = bm.output_names(case)
    assert names[0] == "loss" and len(names) == len(expected) > 2
    call = bm.FAMILIES["models"].check_runner(case, "fast", inputs, 1)
    call = call or bm.make_runner(case, "fast", inputs, 1)
    outputs = call()
    ok, err, message = bm.check_result(case, outputs, expected, "float64", impl="fast")
    assert ok and err <= 1e-9, message
    k = len(names) - 2  # the last weight's gradient
    ok, _, message = bm.check_result(case, _perturbed(outputs, k, rng), expected, "float64",
                                     impl="fast")
    assert not ok and names[k] in message
    # The step updated the parameters (Adam): a second call computes a different loss.
    assert call()[0] != outputs[0]


@pytest.mark.parametrize("case", TINY_MODELS, ids=lambda c: c.net)
def test_check_result_models_torch_agrees_in_float64(case):
    pytest.importorskip("torch")
    inputs = bm.make_inputs(case, "float64")
    expected = bm.reference_result(case, inputs)
    with bm.thread_limits(1, torch=True):
        call = bm.FAMILIES["models"].check_runner(case, "torch", inputs, 1)
        outputs = (call or bm.make_runner(case, "torch", inputs, 1))()
    ok, err, message = bm.check_result(case, outputs, expected, "float64", impl="torch")
    assert ok and err <= 1e-9, message


@pytest.mark.parametrize("net", ["fc_bn_dropout", "captioning_transformer"])
def test_models_dropout_net_is_checked_without_dropout(net):
    case = next(c for c in TINY_MODELS if c.net == net)
    inputs = bm.make_inputs(case, "float64")
    expected = bm.reference_result(case, inputs)
    family = bm.FAMILIES["models"]
    assert family.check_runner(case, "fast", inputs, 1) is not None
    assert family.check_runner(TINY_MODELS[0], "fast", inputs, 1) is None
    # The timed step drops units (half of them; the Transformer 10%, in training mode): its
    # loss is not the oracle's.
    timed = bm.make_runner(case, "fast", inputs, 1)()
    assert not bm.check_result(case, timed, expected, "float64", impl="fast")[0]


def test_models_has_issue16_captioning_transformer_steps():
    """The course notebook's shape in the quick subset, the larger one in full runs only."""
    cases = [c for c in bm.MODEL_CASES if c.net == "captioning_transformer"]
    assert [(c.n, c.heads, c.quick, c.tiny) for c in cases] == [(25, 2, True, False),
                                                                (128, 4, False, False)]
    s = cases[0].sizes
    assert (s["steps"], s["wordvec"], s["layers"], s["features"], s["vocab"]) == (
        16, 256, 2, 512, 1004)
    assert [c.id for c in cases] == ["models-captioning_transformer-n25-h2",
                                     "models-captioning_transformer-n128-h4"]
    quick = bm.get_cases(("models",), quick=True)
    assert cases[0] in quick and cases[1] not in quick
    assert len(bm.get_cases(("models",))) == len(quick) + 1 == 7
    # The package's torch model of the course holds the parameters ours has, same shapes.
    torch = pytest.importorskip("torch")
    case = next(c for c in TINY_MODELS if c.net == "captioning_transformer")
    _, captioner, _ = bm.FAMILIES["models"].torch_course_modules(torch)
    model = captioner(bm.FAMILIES["models"]._vocabulary(30), 10, 8, num_heads=4)
    inputs = bm.make_inputs(case, "float32")
    assert {f"param:{k}": tuple(p.shape) for k, p in model.named_parameters()} == {
        k: a.shape for k, a in inputs.items() if k.startswith("param:")}


# --- run ----------------------------------------------------------------------------------------


def test_run_layers_and_models_rows(monkeypatch):
    monkeypatch.setitem(bm.CASES, "layers", (bm.LayerCase("affine", (3, 7, 4), quick=True),
                                             bm.LayerCase("relu", (2, 3, 4, 5), quick=True)))
    monkeypatch.setitem(bm.CASES, "models", (bm.ModelCase("fc_bn_dropout", 4, quick=True,
                                                          tiny=True),))
    results = bm.run(quick=True, kernels=("layers", "models"), repeat=1, n_threads=1)
    assert [(r["kernel"], r["dtype"]) for r in results] == [("layers", "float32")] * 2 + [
        ("models", "float32")]
    torch = bm.torch_available()
    for r in results:
        assert r["impls"]["fast"]["status"] == "ok", r["impls"]["fast"]
        assert r["impls"]["fast"]["max_rel_err"] <= 5e-2
        assert r["rate"] is None and r["gemm_peak_gflops"] is None
        assert r["impls"]["torch"]["status"] == ("ok" if torch else "skipped")
        if torch:
            paired = r["paired_ratios"]["torch"]
            assert paired["rounds"] == 1 and r["ratio_vs_torch"] == paired["median"] > 0
    relu = results[1]
    assert relu["params"]["op"] == "relu"
    if relu["impls"]["reference"]["status"] == "skipped":  # no twin of relu (yet)
        assert "twin" in relu["impls"]["reference"]["reason"]
    assert "reference" not in results[2]["impls"]
    table = bm.format_table(results)
    assert "layers-affine-3x7x4" in table and "models-fc_bn_dropout-n4-tiny" in table
    if torch:
        assert "paired models-fc_bn_dropout-n4-tiny float32: ours/torch median" in table


def test_run_pairs_the_conv_cases_marked_paired(monkeypatch):
    pytest.importorskip("torch")
    monkeypatch.setitem(bm.CASES, "conv", (
        bm.ConvCase(2, 3, 6, 6, f=4, kh=3, kw=3, stride=1, pad=1, quick=True, paired=True),
        bm.ConvCase(2, 3, 6, 6, f=4, kh=3, kw=3, stride=1, pad=0, quick=True),
    ))
    paired, unpaired = bm.run(kernels=("conv",), dtypes=("float64",), impls=("fast", "torch"),
                              repeat=1, n_threads=1, gemm_peaks={"float64": {"gflops": 1.0}})
    assert paired["paired_ratios"]["torch"]["rounds"] == 1
    assert paired["ratio_vs_torch"] == paired["paired_ratios"]["torch"]["median"]
    assert "paired_ratios" not in unpaired


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: bm.LayerCase("gelu", (2, 3)), "op must"),
        (lambda: bm.LayerCase("affine", (2, 3)), "shape"),
        (lambda: bm.ModelCase("resnet", 2), "net must"),
        (lambda: bm.make_runner(TINY_MODELS[0], "reference", {}, 1), "impl"),
    ],
    ids=["layer-op", "layer-shape", "model-net", "model-twin"],
)
def test_layer_and_model_cases_bad_input_raises(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_step_timing_is_lighter_in_the_quick_run():
    timers, settled = bm.step_timing(True)
    assert settled.rounds < bm.lstm_rounds(True).rounds and settled.settle == bm.SETTLE_SECONDS
    assert timers["fast"].min_repeat <= bm.quick_timers()["fast"].min_repeat
    smoke_timers, smoke = bm.step_timing(True, repeat=1)
    assert (smoke.rounds, smoke.calls, smoke.settle) == (1, 1, 0.0)
    assert smoke_timers["fast"].repeat == 1
    assert bm.step_timing(False)[1] == bm.lstm_rounds(False)


def test_run_holds_openmp_to_the_thread_count_for_the_course_api(monkeypatch):
    """The course functions take no n_threads: run() limits OpenMP's default for them."""
    from cs231n_fast._threads import effective_n_threads

    seen = []
    case = bm.LayerCase("relu", (2, 3, 4, 5), quick=True)
    family = bm.FAMILIES["layers"]
    original = family.runner

    def runner(case, impl, inputs, n_threads):
        seen.append(effective_n_threads(None))
        return original(case, impl, inputs, n_threads)

    monkeypatch.setattr(family, "runner", runner)
    monkeypatch.setitem(bm.CASES, "layers", (case,))
    bm.run(quick=True, kernels=("layers",), impls=("fast",), repeat=1, n_threads=1)
    assert seen and set(seen) == {1}


def test_settled_rounds_time_cheap_calls_for_min_seconds():
    clock = {"t": 0.0}

    def call():
        clock["t"] += 0.001

    real = bm.time.perf_counter
    bm.time.perf_counter = lambda: clock["t"]
    counted = []
    try:
        def counting():
            counted.append(1)
            call()

        rounds = bm.SettledRounds(rounds=1, calls=3, settle=0.0, min_seconds=0.0105)
        assert rounds({"a": counting}) == {"a": [pytest.approx(0.001)]}
        assert len(counted) == 11  # until 10.5 ms had passed, not 3 calls
        counted.clear()
        capped = bm.SettledRounds(rounds=1, calls=3, settle=0.0, min_seconds=1.0, max_calls=5)
        capped({"a": counting})
        assert len(counted) == 5
    finally:
        bm.time.perf_counter = real
    assert bm.layer_rounds(True).min_seconds > 0 and bm.layer_rounds(False, repeat=2).min_seconds == 0

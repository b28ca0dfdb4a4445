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

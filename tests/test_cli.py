"""The ``cs231n-fast`` command line (``cs231n_fast.__main__``)."""

import json
import subprocess
import sys

import pytest

from cs231n_fast.__main__ import main
from cs231n_fast._threads import effective_n_threads

MACHINE_KEYS = {"cpu_model", "logical_cpus", "usable_cpus", "n_threads", "blas", "versions",
                "gemm_peak_gflops"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def tiny_cases(monkeypatch):
    """Tiny quick stand-ins for every kernel's cases (and a small GEMM for the peak), so a
    whole ``bench`` run takes seconds."""
    from cs231n_fast import benchmarking as bm

    knn = dict(n_train=120, n_query=16, d=24, quick=True, quick_impls=bm.KNN_IMPLS)
    cases = {
        "conv": (bm.ConvCase(2, 3, 8, 8, f=4, kh=3, kw=3, stride=1, pad=1, quick=True),),
        "pool": (bm.PoolCase(2, 3, 8, 8, kh=3, kw=3, stride=2, quick=True),),
        "knn": (bm.KnnCase("kneighbors", "l2", k=4, **knn),
                bm.KnnCase("pairwise", "l1", **knn, impls=("fast", "reference", "scipy"))),
        "lstm": (bm.LstmCase(4, 6, 8, quick=True), bm.LstmCase(4, 6, 8, t=3, quick=True)),
    }
    for kernel, kernel_cases in cases.items():
        monkeypatch.setitem(bm.CASES, kernel, kernel_cases)
    monkeypatch.setattr(bm, "GEMM_PEAK_SHAPE", (128, 96, 64))
    return cases


def test_main_info_prints_config(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "cs231n_fast" in out
    assert "OpenMP" in out


def test_main_bench_quick_writes_json(capsys, tmp_path):
    path = tmp_path / "bench.json"
    argv = ["bench", "--quick", "--kernels", "pool", "--dtype", "float32", "--repeat", "1",
            "--json", str(path)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "pool-100x3x32x32-k2s2" in out  # the table
    assert "conv-" not in out

    doc = json.loads(path.read_text())
    assert MACHINE_KEYS <= set(doc["machine"])
    assert doc["machine"]["n_threads"] >= 1
    assert {"python", "numpy", "cs231n_fast"} <= set(doc["machine"]["versions"])
    assert doc["config"]["kernels"] == ["pool"]
    results = doc["results"]
    assert results
    for r in results:
        assert r["kernel"] == "pool"
        assert r["dtype"] == "float32"
        assert r["work"]["bytes"] > 0
        for impl in ("fast", "reference"):
            entry = r["impls"][impl]
            assert entry["status"] == "ok", entry
            assert entry["median_ms"] > 0
            assert entry["repeats"] == 1
        torch = r["impls"]["torch"]
        assert torch["status"] in ("ok", "skipped")
        if torch["status"] == "ok":
            assert torch["median_ms"] > 0
            assert r["ratio_vs_torch"] > 0
        assert r["speedup_vs_reference"] > 0
        assert r["rate"]["unit"] == "GB/s" and r["rate"]["value"] > 0


def test_main_bench_knn_quick_tiny_cases(capsys, tmp_path, monkeypatch):
    """``bench --kernels knn --quick`` end to end, on tiny stand-ins for the real cases."""
    from cs231n_fast import benchmarking as bm

    tiny = dict(n_train=120, n_query=16, d=24, quick=True, quick_impls=bm.KNN_IMPLS)
    cases = (
        bm.KnnCase("pairwise", "l1", **tiny, impls=("fast", "reference", "scipy", "sklearn")),
        bm.KnnCase("kneighbors", "l2", k=4, **tiny),
        bm.KnnCase("predict", "l2", k=3, **tiny),
    )
    monkeypatch.setitem(bm.CASES, "knn", cases)
    path = tmp_path / "bench.json"
    argv = ["bench", "--quick", "--kernels", "knn", "--repeat", "1", "--threads", "2",
            "--json", str(path)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    for case in cases:
        assert case.id in out
    assert "ours/peer" in out and "conv-" not in out

    results = json.loads(path.read_text())["results"]
    assert [(r["case"], r["dtype"]) for r in results] == [(c.id, "float32") for c in cases]
    for case, r in zip(cases, results):
        assert r["kernel"] == "knn"
        assert set(r["impls"]) == set(case.impls)
        for impl in ("fast", "reference", "scipy"):
            entry = r["impls"][impl]
            assert entry["status"] == "ok", (impl, entry)
            assert entry["median_ms"] > 0 and entry["repeats"] == 1
        for impl, entry in r["impls"].items():
            assert entry["status"] in ("ok", "skipped"), (impl, entry)
        assert r["speedup_vs_reference"] > 0
        assert r["best_peer"] in bm.KNN_PEERS
        assert r["paired_ratio_vs_best_peer"] > 0
        if case.op == "pairwise":
            assert r["agreement_min"] is None
        else:
            assert r["impls"]["fast"]["agreement"] == 1.0  # exact, like the reference
            assert 0.9 <= r["agreement_min"] <= 1.0
            for entry in r["impls"].values():
                if entry["status"] == "ok":
                    assert entry["extra_mb"] >= 0


def test_main_bench_json_holds_every_kernel(capsys, tmp_path, tiny_cases):
    from cs231n_fast import benchmarking as bm

    path = tmp_path / "bench.json"
    argv = ["bench", "--quick", "--repeat", "1", "--threads", "2", "--dtype", "float32",
            "--json", str(path)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    for text in ("% peak", "ours/peer", "BLAS GEMM peak", "six_matmuls"):
        assert text in out

    doc = json.loads(path.read_text())
    # The default families; layers and models are opt-in (see test_main_bench_layers_models).
    assert doc["config"]["kernels"] == list(bm.DEFAULT_KERNELS)
    results = doc["results"]
    assert {r["kernel"] for r in results} == set(bm.DEFAULT_KERNELS)
    ids = [c.id for kernel in bm.DEFAULT_KERNELS for c in tiny_cases[kernel]]
    assert [r["case"] for r in results] == ids

    # The BLAS GEMM peak: measured once for the run's dtype, at the run's thread count.
    assert set(doc["gemm_peak"]) == {"float32"}
    peak = doc["gemm_peak"]["float32"]
    # --threads 2 resolves to 1 in a build without OpenMP
    assert peak["shape"] == [128, 96, 64] and peak["n_threads"] == effective_n_threads(2)
    assert peak["gflops"] > 0
    assert doc["machine"]["gemm_peak_gflops"] == {"float32": peak["gflops"]}
    assert MACHINE_KEYS <= set(doc["machine"])

    for r in results:
        case = next(c for c in tiny_cases[r["kernel"]] if c.id == r["case"])
        assert r["impls"]["fast"]["status"] == "ok", r["impls"]["fast"]
        assert r["gemm_peak_gflops"] == peak["gflops"]
        if case.gemm_flops() is None:  # pool, kNN L1
            assert "blas_peak_share" not in r
            continue
        assert r["rate"]["unit"] == "GFLOP/s"
        assert r["gflops"] > 0 and r["blas_peak_share"] > 0
        assert r["blas_peak_share"] == pytest.approx(r["gflops"] / peak["gflops"])
        for entry in r["impls"].values():
            if entry["status"] == "ok":
                assert entry["gflops"] > 0 and entry["blas_peak_share"] > 0

    lstm = [r for r in results if r["kernel"] == "lstm"]
    assert len(lstm) == 2
    torch_status = "ok" if bm.torch_available() else "skipped"
    for r, case in zip(lstm, tiny_cases["lstm"]):
        assert set(r["impls"]) == set(case.impls)
        for impl in ("fast", "reference"):
            assert r["impls"][impl]["status"] == "ok", (impl, r["impls"][impl])
            assert r["impls"][impl]["max_rel_err"] <= bm.RTOL["float32"]
        assert r["impls"]["torch"]["status"] == torch_status, r["impls"]["torch"]
        assert r["speedup_vs_reference"] > 0
        assert r["peer"] == "torch"
        assert r["work"]["flops"] == case.flops()
    step = lstm[0]
    assert step["impls"]["six_matmuls"]["status"] == "ok"
    assert step["ratio_vs_floor"] > 0
    assert "six_matmuls" not in lstm[1]["impls"]


def test_main_bench_plot_writes_png(capsys, tmp_path, tiny_cases):
    pytest.importorskip("matplotlib")  # the `plot` extra; its absence is tested below
    path = tmp_path / "bench.png"
    argv = ["bench", "--quick", "--kernels", "lstm,pool", "--impls", "fast,reference",
            "--repeat", "1", "--plot", str(path)]
    assert main(argv) == 0
    assert f"wrote {path}" in capsys.readouterr().err
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert len(data) > 10_000  # a drawn chart, not an empty canvas


def test_main_bench_plot_without_matplotlib_exits_before_running(capsys, tmp_path,
                                                                 monkeypatch):
    from cs231n_fast import benchmarking as bm

    def no_run(*args, **kwargs):
        raise AssertionError("the benchmarks ran before the --plot check")

    monkeypatch.setattr(bm, "run", no_run)
    # A None entry makes importing that module raise ImportError; submodules loaded by an
    # earlier test are blocked too, or `from matplotlib.figure import ...` would find them.
    for name in ["matplotlib"] + [m for m in sys.modules if m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    path = tmp_path / "bench.png"
    with pytest.raises(SystemExit) as excinfo:
        main(["bench", "--quick", "--plot", str(path)])
    assert excinfo.value.code == 2
    err = capsys.readouterr().err
    assert "usage: cs231n-fast bench" in err
    assert 'pip install "cs231n_fast[plot]"' in err
    assert not path.exists()


@pytest.mark.parametrize(
    "argv, expected",
    [
        ([], "COMMAND"),
        (["frobnicate"], "frobnicate"),
        (["bench", "--kernels", "fft"], "fft"),
        (["bench", "--kernels", "nope"], "nope"),
        (["bench", "--kernels", "lstm,nope"], "nope"),
        (["bench", "--kernels", ""], "--kernels"),
        (["bench", "--impls", "jax"], "jax"),
        (["bench", "--dtype", "float16"], "float16"),
        (["bench", "--threads", "0"], "--threads"),
        (["bench", "--threads", "two"], "--threads"),
        (["bench", "--repeat", "-1"], "--repeat"),
        (["bench", "--json", "/nonexistent-dir/bench.json"], "--json"),
        (["bench", "--plot", "/nonexistent-dir/bench.png"], "--plot"),
        (["bench", "--plot"], "--plot"),
        (["info", "--quick"], "--quick"),
    ],
)
def test_main_rejects_bad_arguments(capsys, argv, expected):
    with pytest.raises(SystemExit) as excinfo:
        main(argv)
    assert excinfo.value.code == 2
    assert expected in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--help"], ["bench", "--help"], ["info", "--help"]])
def test_main_help_exits_zero(capsys, argv):
    with pytest.raises(SystemExit) as excinfo:
        main(argv)
    assert excinfo.value.code == 0
    assert "usage: cs231n-fast" in capsys.readouterr().out


def test_main_bench_help_lists_kernels_and_options(capsys):
    with pytest.raises(SystemExit) as excinfo:
        main(["bench", "--help"])
    assert excinfo.value.code == 0
    out = capsys.readouterr().out
    for text in ("conv,pool,knn,lstm", "six_matmuls", "--plot", "--json", "--threads",
                 "--repeat", "BLAS", "cs231n_fast[plot]"):
        assert text in out, text


def test_main_runs_as_module():
    proc = subprocess.run(
        [sys.executable, "-m", "cs231n_fast", "info"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "cs231n_fast" in proc.stdout


def test_main_bench_layers_models_json(capsys, tmp_path, monkeypatch):
    """``bench --kernels layers,models`` end to end on tiny stand-ins: the opt-in families."""
    from cs231n_fast import benchmarking as bm

    layers = (bm.LayerCase("layernorm", (4, 6), quick=True),)
    models = (bm.ModelCase("three_layer_convnet", 2, quick=True, tiny=True),)
    monkeypatch.setitem(bm.CASES, "layers", layers)
    monkeypatch.setitem(bm.CASES, "models", models)
    path = tmp_path / "bench.json"
    argv = ["bench", "--quick", "--kernels", "layers,models", "--repeat", "1", "--threads", "1",
            "--json", str(path)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "layers-layernorm-4x6" in out and "models-three_layer_convnet-n2-tiny" in out
    doc = json.loads(path.read_text())
    assert doc["config"]["kernels"] == ["layers", "models"]
    assert [r["case"] for r in doc["results"]] == [layers[0].id, models[0].id]
    for r in doc["results"]:
        assert r["impls"]["fast"]["status"] == "ok" and r["impls"]["fast"]["median_ms"] > 0
        assert r["peer"] == "torch"
        if bm.torch_available():
            assert r["paired_ratios"]["torch"]["median"] == r["ratio_vs_torch"] > 0
